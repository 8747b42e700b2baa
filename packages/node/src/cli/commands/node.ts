import { type Address, AllotError } from '@allot/protocol'
import type { Command } from 'commander'
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
import { createCliLogger, LOG_FORMATS } from '../log.js'
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
  logFormat: string
  verifyThreads?: string
  verifyBackend?: 'noble' | 'native'
  sealingEpoch?: string
  sealingShares?: string
  http?: string
  httpHost: string
  httpCors: string[]
}

const collect = (v: string, prev: string[] = []) => [...prev, v]

export const registerNodeCommands: RegisterCommands = (program: Command) => {
  const node = program.command('node').description('run an allot node')
  node
    .command('start')
    .description(
      'start a node: JSON logs on stdout (--log-format pretty for a terminal), Prometheus metrics on --metrics-port',
    )
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
    .option(
      '--log-format <format>',
      `logs: ${LOG_FORMATS.join(' | ')} (pretty: one human-readable line each)`,
      'json',
    )
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
      const logger = createCliLogger({ level: o.logLevel, format: o.logFormat })
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
        metricsHttp:
          o.metricsPort === undefined
            ? undefined
            : { registry, port: Number(o.metricsPort), host: o.metricsHost },
        logger,
        verifier: {
          threads: o.verifyThreads ? Number(o.verifyThreads) : undefined,
          backend: o.verifyBackend,
        },
      })
      const n = running.node
      logger.info({ api: n.apiAddrs(), http: running.gateway?.url }, 'api listening')
      await new Promise<void>((resolve) => {
        const stop = () => resolve()
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
      })
      await running.stop()
    })
}

function httpPort(v: string): number {
  const port = Number(v)
  if (!/^[0-9]+$/.test(v) || port > 65535) throw new AllotError('CLI_BAD_FLAG', `--http ${v}: not a port`)
  return port
}
