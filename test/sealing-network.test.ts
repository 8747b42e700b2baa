// Sealed bids end to end in one process: four validators (real libp2p, gossipsub, level) run consensus,
// release key shares on `/allot/<net>/unseal/1` only for decided batches, rebuild sk_h from t+1 shares,
// open the sealed orders and clear them. No chain: the pipeline's balances come from a stub view.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AllotClient, type Genesis } from '@allot/node'
import {
  AllotError,
  addressOf,
  dealEpoch,
  decodeSealedOrder,
  deterministicRng,
  type Hex,
  type KeyShare,
  type PrivateKey,
  privateKeyFromHex,
  sealOrder,
  signOrder,
} from '@allot/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildOrder, sealPlain } from '../packages/node/src/api/client.js'
import { type RunningNode, runNode } from '../packages/node/src/run.js'
import { validatorGenesis } from './node-fixtures.js'

const keys: PrivateKey[] = [1, 2, 3, 4].map((i) => new Uint8Array(32).fill(0x50 + i))
const trader = (i: number) => privateKeyFromHex(`0x${(i + 0x71).toString(16).padStart(64, '0')}`)

function genesis(): Genesis {
  return validatorGenesis('sealing-test', keys)
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('sealed bids on a 4-validator network (n = 4, t = 1)', () => {
  const g = genesis()
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  let client: AllotClient
  /** Violations of "nothing opens, no share leaves, before the decision", seen by the instrumented services. */
  const violations: string[] = []
  const unsealed = new Set<bigint>()
  const sharesSeen: KeyShare[] = []

  beforeAll(async () => {
    // The trusted dealer of a devnet: shares go to validators in sorted-address order (run.ts).
    const dealt = dealEpoch({
      startHeight: 1n,
      length: 400,
      n: 4,
      t: 1,
      rng: deterministicRng('sealing-test'),
    })
    const sorted = keys.map((k) => addressOf(k)).sort()
    for (const k of keys) {
      const dir = mkdtempSync(join(tmpdir(), 'allot-seal-'))
      dirs.push(dir)
      const r = await runNode({
        genesis: g,
        dataDir: dir,
        validatorKey: k,
        verifier: { threads: 1 },
        sealingEpoch: { public: dealt.public, shares: dealt.shares[sorted.indexOf(addressOf(k))] },
        unsealDeadlineMs: 10_000,
        chainView: { available: async () => 10n ** 24n, settledHeightAt: async () => 0n },
      })
      nodes.push(r)
      instrument(r)
    }
    const dials: Promise<unknown>[] = []
    for (let i = 0; i < 4; i++)
      for (let j = i + 1; j < 4; j++)
        dials.push(nodes[i].node.host.dial(nodes[j].node.host.getMultiaddrs()[0]))
    await Promise.all(dials)
    client = await AllotClient.connect(nodes[0].node.apiAddrs()[0])
    // Until consensus decides its first height the open batch follows the clock from genesis (and the
    // mempool prunes by it): start submitting once batches flow.
    await waitFor(() => nodes.every((n) => (n.consensus?.height ?? 0n) >= 3n), 20_000, 'consensus running')
  }, 40_000)

  afterAll(async () => {
    await client?.close()
    await Promise.allSettled(nodes.map((n) => n.stop()))
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  /** Wraps each node's sealing service: every share and every unsealing is checked against consensus. */
  function instrument(r: RunningNode): void {
    const s = r.sealing!
    // Consensus works on `height` once every lower height is decided here.
    const decidedHere = (h: bigint) => (r.consensus?.height ?? 0n) > h
    const decidedSomewhere = (h: bigint) => nodes.some((n) => (n.consensus?.height ?? 0n) > h)
    const onShare = s.onShare.bind(s)
    s.onShare = (ks) => {
      sharesSeen.push(ks)
      if (!decidedSomewhere(ks.height))
        violations.push(`share of undecided ${ks.height} from ${ks.validator}`)
      return onShare(ks)
    }
    const unseal = s.unseal.bind(s)
    s.unseal = (h, orders) => {
      if (!decidedHere(h)) violations.push(`unseal of undecided ${h}`)
      unsealed.add(h)
      return unseal(h, orders)
    }
  }

  /** A batch a few ahead of the open one, so both sides of a cross land in it. */
  async function target(): Promise<bigint> {
    return (await client.info()).openBatch + 2n
  }

  it('serves PK_h, says sealing is on, and refuses plain orders', async () => {
    const info = await client.info()
    expect(info.sealing).toBe(true)
    const pk = await client.batchKey(info.openBatch + 1n)
    expect(pk.length).toBe(2 + 66)
    const order = buildOrder(
      info,
      { sell: 'TKA', sellAmount: 10n, buy: 'TKB', buyAmount: 10n },
      addressOf(trader(0)),
    )
    const plain = sealPlain({ chainId: info.chainId, verifyingContract: info.settlement }, order, trader(0))
    await expect(client.submit(plain)).rejects.toMatchObject({ code: 'ORDER_PLAIN_REFUSED' })
    await expect(client.batchKey(100_000n)).rejects.toMatchObject({ code: 'BATCH_KEY_UNKNOWN' })
  })

  it('crossing sealed orders fill; a garbled one is rejected; nothing opens before its decision', async () => {
    const h = await target()
    const a = await client.submitOrder(
      {
        sell: 'TKA',
        sellAmount: 1000n,
        buy: 'TKB',
        buyAmount: 900n,
        batch: h,
        nonce: 1n,
        partiallyFillable: true,
      },
      trader(0),
    )
    const b = await client.submitOrder(
      {
        sell: 'TKB',
        sellAmount: 1000n,
        buy: 'TKA',
        buyAmount: 900n,
        batch: h,
        nonce: 1n,
        partiallyFillable: true,
      },
      trader(1),
    )
    expect(a.targetBatch).toBe(h)
    // Sealed to PK_{h+1} instead of PK_h: its envelope is valid (accepted at intake), its content never opens.
    const info = await client.info()
    const domain = { chainId: info.chainId, verifyingContract: info.settlement }
    const order = buildOrder(
      info,
      { sell: 'TKA', sellAmount: 5n, buy: 'TKB', buyAmount: 5n, batch: h, nonce: 2n },
      addressOf(trader(2)),
    )
    const garbled = await client.submit(
      sealOrder({
        domain,
        signedOrder: { order, signature: signOrder(domain, order, trader(2)) },
        batchPublicKey: await client.batchKey(h + 1n),
        traderKey: trader(2),
        nonce: 2n,
      }),
    )
    // The mempool holds ciphertext only until h is decided: no node can read it.
    for (const n of nodes) {
      const e = n.node.mempool.get(a.orderId as Hex)
      if (e) expect(decodeSealedOrder(e.bytes).payload.kind).toBe('sealed')
    }
    const transient = new Set(['pending', 'included'])
    const fills = new Set(['filled', 'partially_filled'])
    await waitFor(
      async () =>
        !transient.has((await client.status(a.orderId)).status) &&
        !transient.has((await client.status(b.orderId)).status),
      20_000,
      `order ${b.orderId} final`,
    )
    const sa = await client.status(a.orderId)
    const sb = await client.status(b.orderId)
    expect(sa.batch).toBe(h)
    expect(
      [sa.status, sb.status].every((x) => fills.has(x)),
      JSON.stringify([sa.status, sb.status]),
    ).toBe(true)
    // They cross each other: what one sells the other buys, within both limits (≥ 0.9 per unit sold).
    expect(sa.filled?.sold).toBe(sb.filled?.bought)
    expect(sb.filled?.sold).toBe(sa.filled?.bought)
    for (const s of [sa, sb]) expect((s.filled?.bought ?? 0n) * 10n >= (s.filled?.sold ?? 1n) * 9n).toBe(true)
    expect((sa.filled?.sold ?? 0n) > 0n).toBe(true)
    // The garbled order's batch may be decided after the crossing pair's (it was submitted last).
    await waitFor(
      async () => !transient.has((await client.status(garbled.orderId)).status),
      20_000,
      `order ${garbled.orderId} final`,
    )
    const sg = await client.status(garbled.orderId)
    expect(sg.status).toBe('rejected')
    expect(sg.error?.code).toMatch(/^SEAL_/)
    expect(unsealed.has(h)).toBe(true)
    expect(violations).toEqual([])
    // Shares of h came from at least t+1 = 2 validators, each signed by the validator it names.
    expect(new Set(sharesSeen.filter((s) => s.height === h).map((s) => s.validator)).size).toBeGreaterThan(1)
  }, 60_000)

  it('a validator will not release its share of an undecided batch', async () => {
    const s = nodes[0].sealing!
    const future = (nodes[0].consensus?.height ?? 0n) + 50n
    await expect(s.releaseShare(future)).rejects.toBeInstanceOf(AllotError)
    await expect(s.releaseShare(future)).rejects.toMatchObject({ code: 'SEAL_UNDECIDED' })
    expect(sharesSeen.some((x) => x.height >= future)).toBe(false)
  })

  it('after a restart (no epoch flag) a validator still holds its keys and the decided-set', async () => {
    const old = nodes[3]
    const decided = (old.consensus?.height ?? 2n) - 1n
    await old.stop()
    const back = await runNode({
      genesis: g,
      dataDir: dirs[3],
      validatorKey: keys[3],
      verifier: { threads: 1 },
      chainView: { available: async () => 10n ** 24n, settledHeightAt: async () => 0n },
    })
    nodes[3] = back
    const s = back.sealing!
    expect(await s.batchKey(decided)).toBeDefined()
    const ks = await s.releaseShare(decided)
    expect(ks.height).toBe(decided)
    await expect(s.releaseShare(decided + 100n)).rejects.toMatchObject({ code: 'SEAL_UNDECIDED' })
  }, 20_000)
})
