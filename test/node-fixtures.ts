// Shared fixtures of the multi-node tests (test/node-*.test.ts).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type AllotNode, createNode, type Genesis, type NodeOptions, parseGenesis } from '@allot/node'
import { type Address, addressOf, type PrivateKey, privateKeyFromHex } from '@allot/protocol'

export const TKA: Address = '0x00000000000000000000000000000000000000aa'
export const TKB: Address = '0x00000000000000000000000000000000000000bb'

export function testGenesis(over: Record<string, unknown> = {}): Genesis {
  return parseGenesis({
    networkId: 'testnet',
    chainId: '31337',
    settlement: '0x5e77000000000000000000000000000000000001',
    genesisTime: Date.now() - 1000,
    validators: [],
    // Long batches: the open batch stays put for the whole test.
    batchIntervalMs: 600_000,
    intakeCutoffMs: 1_000,
    inclusionGraceMs: 500,
    bond: { token: 'TKA', minBond: '100', invalidOrderFee: '1', allowance: '1000' },
    feeBps: 0,
    maxOrdersPerBatch: 10_000,
    maxFillsPerBatch: 1_000,
    perTraderMaxOrdersPerBatch: 1_000,
    assets: [
      { symbol: 'TKA', kind: 'token', address: TKA, decimals: 18 },
      { symbol: 'TKB', kind: 'token', address: TKB, decimals: 18 },
      { symbol: 'CPU', kind: 'resource', class: 'cpu.vcore-hour', decimals: 0 },
    ],
    sealing: { enabled: false },
    ...over,
  })
}

/**
 * A validator network's genesis for multi-node tests: the validators of `keys` (their peer ids are not
 * checked in process), 500 ms batches and short consensus timeouts, sealing as given.
 */
export function validatorGenesis(
  networkId: string,
  keys: PrivateKey[],
  sealing: Record<string, unknown> = { enabled: true },
): Genesis {
  return testGenesis({
    networkId,
    genesisTime: Date.now(),
    validators: keys.map((k, i) => ({
      address: addressOf(k),
      peerId: `peer-${i}`,
      multiaddr: '/ip4/127.0.0.1/tcp/0',
    })),
    batchIntervalMs: 500,
    intakeCutoffMs: 100,
    inclusionGraceMs: 500,
    timeouts: { proposeMs: 1000, prevoteMs: 300, precommitMs: 300, deltaMs: 200, capMs: 3000 },
    maxOrdersPerBatch: 1000,
    perTraderMaxOrdersPerBatch: 100,
    sealing,
  })
}

/** Deterministic trader keys. */
export function traderKey(i: number): PrivateKey {
  return privateKeyFromHex(`0x${(i + 1).toString(16).padStart(64, '0')}`)
}
export const traderAddress = (i: number) => addressOf(traderKey(i))

export class Cluster {
  readonly nodes: AllotNode[] = []
  readonly dirs: string[] = []
  constructor(readonly genesis: Genesis) {}

  async add(opts: Partial<NodeOptions> = {}, dir?: string): Promise<AllotNode> {
    const dataDir = dir ?? mkdtempSync(join(tmpdir(), 'allot-node-'))
    if (!dir) this.dirs.push(dataDir)
    const node = await createNode({ genesis: this.genesis, dataDir, verifier: { threads: 1 }, ...opts })
    await node.start()
    this.nodes.push(node)
    return node
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.stop()))
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true })
  }
}

/** Connects nodes i → i+1..i+k (mod n), so every node has ≥ 2k links. */
export async function connectRing(nodes: AllotNode[], k = 3): Promise<void> {
  const dials: Promise<unknown>[] = []
  for (let i = 0; i < nodes.length; i++) {
    for (let j = 1; j <= Math.min(k, nodes.length - 1); j++) {
      const peer = nodes[(i + j) % nodes.length]
      if (peer === nodes[i]) continue
      dials.push(nodes[i].host.dial(peer.host.getMultiaddrs()[0]))
    }
  }
  await Promise.all(dials)
}

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Waits until every node sees at least `min` peers on the orders topic. */
export async function waitForMesh(nodes: AllotNode[], min: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => nodes.every((n) => n.gossip.peersOn(n.ordersTopic) >= min), timeoutMs, 'topic peers')
}

/**
 * Waits until every node's mesh on the orders topic holds every peer it knows on it (the steady state
 * of an overlay whose degree is at most gossipsub's D: no peer left outside the mesh).
 */
export async function waitForFullMesh(nodes: AllotNode[], timeoutMs = 10_000): Promise<void> {
  await waitFor(
    () =>
      nodes.every((n) => {
        const on = n.gossip.peersOn(n.ordersTopic)
        return on > 0 && n.host.services.pubsub.getMeshPeers(n.ordersTopic).length === on
      }),
    timeoutMs,
    'full meshes',
  )
}
