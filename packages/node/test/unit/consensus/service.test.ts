import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addressOf, type Hex, keccak256Hex, type PrivateKey } from '@allot/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { ConsensusService } from '../../../src/consensus/index.js'
import { type AllotNode, createNode, type Genesis, parseGenesis } from '../../../src/index.js'

/**
 * Four validators in one process on loopback (real libp2p, gossipsub, level): they decide batches; one
 * stops (its storage kept), the other three go on; it restarts from its storage and catches up.
 */
const keys: PrivateKey[] = [1, 2, 3, 4].map((i) => new Uint8Array(32).fill(0x40 + i))

function genesis(): Genesis {
  return parseGenesis({
    networkId: 'consensus-test',
    chainId: '31337',
    settlement: '0x5e77000000000000000000000000000000000001',
    genesisTime: Date.now(),
    validators: keys.map((k, i) => ({
      address: addressOf(k),
      peerId: `peer-${i}`,
      multiaddr: '/ip4/127.0.0.1/tcp/0',
    })),
    batchIntervalMs: 400,
    intakeCutoffMs: 100,
    inclusionGraceMs: 500,
    timeouts: { proposeMs: 1000, prevoteMs: 300, precommitMs: 300, deltaMs: 200, capMs: 3000 },
    bond: { token: 'TKA', minBond: '100', invalidOrderFee: '1', allowance: '1000' },
    maxOrdersPerBatch: 1000,
    maxFillsPerBatch: 1000,
    perTraderMaxOrdersPerBatch: 100,
    assets: [{ symbol: 'TKA', kind: 'token', address: `0x${'aa'.repeat(20)}`, decimals: 18 }],
  })
}

interface Validator {
  node: AllotNode
  service: ConsensusService
  dir: string
  decided: Map<bigint, Hex>
}

const dirs: string[] = []
const running: Validator[] = []

async function startValidator(g: Genesis, i: number, dir?: string): Promise<Validator> {
  const dataDir = dir ?? mkdtempSync(join(tmpdir(), 'allot-consensus-'))
  if (!dir) dirs.push(dataDir)
  const node = await createNode({ genesis: g, dataDir, verifier: { threads: 1 }, validatorKey: keys[i] })
  await node.start()
  const decided = new Map<bigint, Hex>()
  const service: ConsensusService = new ConsensusService(node, {
    validatorKey: keys[i],
    syncIdleMs: 700,
    onDecided: (d) => {
      decided.set(d.height, d.valueHash)
      // Stand-in for the solver: a result every honest validator computes alike; validator 3 disagrees.
      const result = keccak256Hex(new TextEncoder().encode(`${d.valueHash}${i === 3 ? 'x' : ''}`))
      void service.attest(d.height, result)
    },
  })
  const v = { node, service, dir: dataDir, decided }
  running.push(v)
  return v
}

async function stopValidator(v: Validator): Promise<void> {
  await v.service.stop()
  await v.node.stop()
  running.splice(running.indexOf(v), 1)
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (cond()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function connect(vs: Validator[]): Promise<void> {
  for (let i = 0; i < vs.length; i++) {
    for (let j = i + 1; j < vs.length; j++) await vs[i].node.host.dial(vs[j].node.host.getMultiaddrs()[0])
  }
}

afterAll(async () => {
  for (const v of [...running]) await stopValidator(v).catch(() => {})
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('consensus service on real nodes', () => {
  it('decides, survives one validator stopping, and the restarted one catches up', {
    timeout: 90_000,
  }, async () => {
    const g = genesis()
    const vs = await Promise.all(keys.map((_, i) => startValidator(g, i)))
    await connect(vs)
    for (const v of vs) await v.service.start()
    await waitFor(() => vs.every((v) => v.decided.has(3n)), 30_000, '3 decided batches')
    for (const h of [1n, 2n, 3n]) {
      const hashes = new Set(vs.map((v) => v.decided.get(h)))
      expect(hashes.size).toBe(1)
      expect([...hashes][0]).toMatch(/^0x[0-9a-f]{64}$/)
    }

    // Result attestation: the three agreeing validators certify; the one that differs raises the alarm.
    await waitFor(() => vs[3].service.counters.resultMismatches > 0, 10_000, 'the mismatch alarm')
    const cert = await vs[0].node.storage.certificates.get(2n)
    expect(cert?.signatures.length).toBe(3)
    expect(cert?.signatures.map((s) => s.validator)).not.toContain(addressOf(keys[3]))
    expect(vs[0].service.counters.resultMismatches).toBe(0)

    // One validator stops; three of four are a quorum.
    const victim = vs[1]
    await stopValidator(victim)
    const others = vs.filter((v) => v !== victim)
    const at = others[0].service.height
    await waitFor(() => others.every((v) => v.decided.has(at + 1n)), 30_000, 'progress without one validator')

    // It comes back from its data dir and catches up with the others.
    const back = await startValidator(g, 1, victim.dir)
    await connect([back, ...others])
    await back.service.start()
    const target = others[0].service.height
    await waitFor(() => back.decided.has(target), 30_000, 'catch-up')
    expect(back.decided.size).toBeGreaterThan(1)
    for (const [h, hash] of back.decided)
      expect(others[0].decided.get(h) ?? others[1].decided.get(h)).toBe(hash)
    const stored = await back.node.storage.batches.get(target)
    expect(stored?.height).toBe(target)
  })
})
