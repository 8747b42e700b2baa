/**
 * The compose file's path, as processes on loopback: anvil already running, `allot devnet init`
 * prepares keys, contracts, deposits and genesis without starting anything, then four
 * `allot node start --network-key … --bootstrap-from-genesis` processes (the containers' entry point)
 * find each other from the genesis alone and finalize batches. Every process is stopped by PID in
 * afterAll, even on failure.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AllotClient, loadGenesis, loadPeerKeyFile, peerIdOfKey } from '@allot/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DevnetInitFile } from '../packages/node/src/devnet/index.js'
import { freePorts, spawnBackground, waitFor } from '../packages/node/src/devnet/index.js'
import { anvilBinaryPath, stopPid } from '../packages/node/src/settlement/index.js'
import { allot, allotJson, REPO } from './support/cli.js'

const require = createRequire(import.meta.url)
const TSX = require.resolve('tsx')
const MAIN = join(REPO, 'packages', 'node', 'src', 'cli', 'main.ts')

const dir = mkdtempSync(join(tmpdir(), 'allot-init-'))
const pids: number[] = []
let rpcUrl: string
let init: DevnetInitFile

describe('devnet init, then node start from the genesis alone (the compose path)', () => {
  beforeAll(async () => {
    const [chainPort, ...p2p] = await freePorts(5)
    const anvil = spawnBackground(
      anvilBinaryPath(),
      ['--host', '127.0.0.1', '--port', String(chainPort), '--chain-id', '31337'],
      { logFile: join(dir, 'anvil.log') },
    )
    pids.push(anvil.pid)
    rpcUrl = `http://127.0.0.1:${chainPort}`
    init = await allotJson<DevnetInitFile>(
      [
        'devnet',
        'init',
        '--chain',
        rpcUrl,
        '--dir',
        join(dir, 'devnet'),
        '--host-template',
        '127.0.0.1',
        '--p2p-port',
        p2p.join(','),
        '--accounts',
        '2',
      ],
      120_000,
    )
  }, 180_000)

  afterAll(async () => {
    await Promise.all(pids.map((pid) => stopPid(pid)))
    rmSync(dir, { recursive: true, force: true })
  }, 60_000)

  it('writes a genesis whose validators are reached at the host template and the given ports', () => {
    const genesis = loadGenesis(init.genesis)
    expect(genesis.validators).toHaveLength(4)
    expect(init.validators).toHaveLength(4)
    for (const [i, v] of init.validators.entries()) {
      expect(genesis.validators[i].multiaddr).toBe(v.multiaddr)
      expect(v.multiaddr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
      // The network key file is the identity the genesis names.
      expect(peerIdOfKey(loadPeerKeyFile(v.networkKey))).toBe(v.peerId)
    }
    expect(new Set(init.validators.map((v) => v.multiaddr)).size).toBe(4)
    expect(Object.keys(init.tokens).sort()).toEqual(['TKA', 'TKB', 'TKC'])
    expect(init.accounts).toHaveLength(2)
    expect(readFileSync(init.epoch, 'utf8').length).toBeGreaterThan(0)
  })

  it('refuses to init over an existing genesis, with its code', async () => {
    const r = await allot(['devnet', 'init', '--chain', rpcUrl, '--dir', join(dir, 'devnet')])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('DEVNET_EXISTS')
  })

  it('four validators started from the genesis alone connect and finalize batches', async () => {
    for (const v of init.validators) {
      const port = v.multiaddr.split('/')[4]
      const args = [
        '--conditions=allot-source',
        '--import',
        TSX,
        MAIN,
        'node',
        'start',
        '--genesis',
        init.genesis,
        '--data',
        join(dir, `data-${v.index}`),
        '--listen',
        `/ip4/127.0.0.1/tcp/${port}`,
        '--validator-key',
        v.validatorKey,
        '--network-key',
        v.networkKey,
        '--sealing-epoch',
        init.epoch,
        '--sealing-shares',
        v.sealingShares,
        '--bootstrap-from-genesis',
        '--rpc-url',
        init.rpcUrl,
      ]
      const proc = spawnBackground(process.execPath, args, { logFile: join(dir, `node-${v.index}.log`) })
      pids.push(proc.pid)
    }
    // No --bootstrap was given: each found the others through the genesis multiaddrs.
    const finalized = await waitFor(
      async () => {
        const infos = await Promise.all(
          init.validators.map(async (v) => {
            let c: AllotClient | undefined
            try {
              c = await AllotClient.connect(v.multiaddr, { timeoutMs: 3000 })
              return await c.info()
            } catch {
              return undefined
            } finally {
              await c?.close().catch(() => {})
            }
          }),
        )
        const ok = infos.every((x) => x !== undefined && x.peers >= 3 && x.finalized >= 2n)
        return ok ? infos : undefined
      },
      {
        timeoutMs: 120_000,
        intervalMs: 1000,
        onTimeout: () => new Error(`no batch finalized; logs in ${dir}`),
      },
    )
    for (const [i, info] of finalized.entries()) expect(info?.peerId).toBe(init.validators[i].peerId)
  }, 150_000)
})
