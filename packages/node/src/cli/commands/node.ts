import { createServer, type Server } from 'node:http'
import { type Address, AllotError } from '@allot/protocol'
import type { Command } from 'commander'
import { pino } from 'pino'
import {
  keyNeedsPassword,
  loadGenesis,
  loadOrCreatePeerKey,
  loadPeerKeyFile,
  loadSecpKey,
  peerIdOfKey,
} from '../../config/index.js'
import { createNodeMetrics, createRegistry } from '../../metrics/index.js'
import { runNode } from '../../run.js'
import { readSealingEpoch } from '../../sealing/index.js'
import type { RegisterCommands } from './index.js'
import { keyPassword } from './keys.js'

interface StartOptions {
  genesis: string
  data: string
  listen: string[]
  validatorKey?: string
  bootstrap?: string[]
  bootstrapFromGenesis?: boolean
  networkKey?: string
  rpcUrl?: string
  metricsPort?: string
  metricsHost: string
  logLevel: string
  verifyThreads?: string
  verifyBackend?: 'noble' | 'native'
  sealingEpoch?: string
  sealingShares?: string
  http?: string
  httpHost: string
  httpCors: string[]
}

const collect = (v: string, prev: string[] = []) => [...prev, v]

/** pino's levels; anything else would make pino throw an uncoded error. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export const registerNodeCommands: RegisterCommands = (program: Command) => {
  const node = program.command('node').description('run an allot node')
  node
    .command('start')
    .description('start a node: JSON logs on stdout, Prometheus metrics on --metrics-port')
    .requiredOption('--genesis <file>', 'genesis file (docs/genesis.md)')
    .requiredOption('--data <dir>', 'data directory (level database, network identity)')
    .option('--listen <multiaddr>', 'listen address (repeatable)', collect, [])
    .option('--validator-key <keystore>', 'validator key: keystore file or (devnets) raw hex')
    .option('--bootstrap <multiaddr>', 'bootstrap peer (repeatable)', collect, [])
    .option('--bootstrap-from-genesis', "bootstrap from every genesis validator's multiaddr but our own")
    .option(
      '--network-key <file>',
      'network identity (libp2p key file); default: <data>/peer-key, created once',
    )
    .option('--rpc-url <url>', 'chain JSON-RPC endpoint')
    .option('--metrics-port <port>', 'serve Prometheus metrics on http://<metrics-host>:<port>/metrics')
    .option('--metrics-host <host>', 'metrics bind address', '127.0.0.1')
    .option('--log-level <level>', 'pino log level', 'info')
    .option('--verify-threads <n>', 'signature worker threads (default: the cores available)')
    .option('--verify-backend <backend>', 'signature backend: noble | native', 'noble')
    .option('--sealing-epoch <file>', 'a dealt sealing epoch to add (devnets: epoch-0.json, docs/sealing.md)')
    .option('--sealing-shares <file>', "this validator's shares of --sealing-epoch (keys/shares-<i>.json)")
    .option(
      '--http <port>',
      'serve the HTTP/JSON gateway and the explorer on http://<http-host>:<port>/ (0: a free port)',
    )
    .option('--http-host <host>', 'gateway bind address', '127.0.0.1')
    .option('--http-cors <origin>', 'an origin allowed by CORS (repeatable; * for any)', collect, [])
    .action(async (o: StartOptions) => {
      if (!LOG_LEVELS.includes(o.logLevel))
        throw new AllotError(
          'CLI_BAD_FLAG',
          `--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${o.logLevel}`,
        )
      const logger = pino({ level: o.logLevel })
      const genesis = loadGenesis(o.genesis)
      const validatorKey = o.validatorKey
        ? loadSecpKey(
            o.validatorKey,
            keyNeedsPassword(o.validatorKey) ? await keyPassword('validator key') : undefined,
          )
        : undefined
      if (o.sealingShares && !o.sealingEpoch)
        throw new AllotError('CLI_BAD_FLAG', '--sealing-shares needs --sealing-epoch')
      // Shamir index order: the sorted validator set (run.ts).
      const sealingEpoch = o.sealingEpoch
        ? readSealingEpoch(
            o.sealingEpoch,
            o.sealingShares,
            genesis.validators.map((v) => v.address.toLowerCase() as Address).sort(),
          )
        : undefined
      const peerKey = o.networkKey ? loadPeerKeyFile(o.networkKey) : await loadOrCreatePeerKey(o.data)
      const bootstrap = [...(o.bootstrap ?? [])]
      if (o.bootstrapFromGenesis) {
        const self = peerIdOfKey(peerKey)
        for (const v of genesis.validators) if (v.peerId !== self) bootstrap.push(v.multiaddr)
      }
      const registry = createRegistry()
      const metrics = createNodeMetrics(registry)
      const running = await runNode({
        genesis,
        dataDir: o.data,
        listen: o.listen.length > 0 ? o.listen : ['/ip4/127.0.0.1/tcp/0'],
        bootstrap,
        peerKey,
        validatorKey,
        rpcUrl: o.rpcUrl,
        sealingEpoch,
        http:
          o.http === undefined
            ? undefined
            : { port: httpPort(o.http), host: o.httpHost, corsOrigins: o.httpCors },
        metrics,
        logger,
        verifier: {
          threads: o.verifyThreads ? Number(o.verifyThreads) : undefined,
          backend: o.verifyBackend,
        },
      })
      const n = running.node
      let server: Server | undefined
      if (o.metricsPort !== undefined) {
        server = createServer((req, res) => {
          if (req.url !== '/metrics') {
            res.writeHead(404).end()
            return
          }
          registry.metrics().then(
            (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
            (e) => res.writeHead(500).end(String(e)),
          )
        })
        await new Promise<void>((resolve) => server?.listen(Number(o.metricsPort), o.metricsHost, resolve))
        const addr = server.address()
        logger.info(
          {
            metrics: `http://${o.metricsHost}:${typeof addr === 'object' && addr ? addr.port : o.metricsPort}/metrics`,
          },
          'metrics',
        )
      }
      logger.info({ api: n.apiAddrs(), http: running.gateway?.url }, 'api listening')
      await new Promise<void>((resolve) => {
        const stop = () => resolve()
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
      })
      server?.close()
      await running.stop()
    })
}

function httpPort(v: string): number {
  const port = Number(v)
  if (!/^[0-9]+$/.test(v) || port > 65535) throw new AllotError('CLI_BAD_FLAG', `--http ${v}: not a port`)
  return port
}
