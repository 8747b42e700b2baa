// An attacker's review of the issue-19 change (penalty evidence, once-per-batch orders, spentAmount,
// fill-or-kill, forced withdrawals, invalidateOrder). Each `it` is an attack and asserts the safe
// behaviour. Pipeline scenarios run the real BatchPipeline (real solver, real remainder logic) against a
// real anvil through contractChainView, then settle the result it certified. The first three found jams
// (one order in two envelopes; a resting buy order's remainder ignoring what fees had spent; amounts above
// 2¹¹² overflowing the contract's limit check), each fixed in the pipeline and intake.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Address,
  addressOf,
  batchResultDigest,
  type ClearingResult,
  encodeSealedOrder,
  encodeSettlementPayload,
  feeOf,
  type Hex,
  keccak256,
  type NetworkDomain,
  type Order,
  orderDigest,
  orderIdOf,
  type PrivateKey,
  payloadHashOf,
  type SealedOrder,
  type SignedOrder,
  sealedOrderDigest,
  signDigest,
  toHex,
} from '@allot/protocol'
import { clearBatch, maxSoldFor, type SolverOrder } from '@allot/solver'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sealPlain } from '../../src/api/client.js'
import { BatchPipeline, contractChainView } from '../../src/batch/index.js'
import { domainOf, type Genesis, parseGenesis } from '../../src/config/index.js'
import { Mempool } from '../../src/mempool/index.js'
import {
  ChainBalanceReader,
  claimWithdrawal,
  escapeWithdraw,
  invalidateOrder,
  readEscrow,
  readInvalidatedAt,
  requestWithdrawal,
  revertName,
  settlementAbi,
} from '../../src/settlement/index.js'
import { NodeStorage } from '../../src/storage/index.js'
import { certify, makeOrder, penaltyOf, result, signed } from './fixtures.js'
import { type SettlementChain, startSettlementChain } from './harness.js'

const FEE_BPS = 10n
const INVALID_ORDER_FEE = 500n

// ---------------------------------------------------------------------------------------------------------
// A real pipeline on a real chain
// ---------------------------------------------------------------------------------------------------------

interface Node {
  c: SettlementChain
  pipeline: BatchPipeline
  genesis: Genesis
  domain: NetworkDomain
  held: Map<Hex, Uint8Array>
  decide(h: bigint, ids: Hex[], chainRef?: bigint): Promise<ClearingResult>
  certifyAndSettle(r: ClearingResult): Promise<string>
  stop(): Promise<void>
}

async function startNode(o: { deposit?: bigint } = {}): Promise<Node> {
  const c = await startSettlementChain({
    feeBps: FEE_BPS,
    invalidOrderFee: INVALID_ORDER_FEE,
    traders: 4,
    deposit: o.deposit,
  })
  const genesis = parseGenesis({
    networkId: 'attack-review',
    chainId: c.domain.chainId.toString(),
    settlement: c.settlement.toLowerCase(),
    genesisTime: 0,
    validators: [],
    batchIntervalMs: 1000,
    intakeCutoffMs: 100,
    inclusionGraceMs: 500,
    bond: {
      token: 'TKA',
      minBond: '1',
      invalidOrderFee: INVALID_ORDER_FEE.toString(),
      allowance: '1000',
    },
    feeBps: Number(FEE_BPS),
    maxOrdersPerBatch: 100,
    maxFillsPerBatch: 100,
    perTraderMaxOrdersPerBatch: 100,
    assets: [
      { symbol: 'TKA', kind: 'token', address: c.tokenA.toLowerCase(), decimals: 18 },
      { symbol: 'TKB', kind: 'token', address: c.tokenB.toLowerCase(), decimals: 18 },
    ],
    sealing: { enabled: false },
  })
  const domain = domainOf(genesis)
  const dir = mkdtempSync(join(tmpdir(), 'allot-attack-'))
  const storage = await NodeStorage.open(join(dir, 'db'))
  const reader = new ChainBalanceReader({
    clients: c.deployer,
    settlement: c.settlement,
    confirmations: 0,
    bondToken: c.tokenA,
    minBond: 1n,
  })
  const held = new Map<Hex, Uint8Array>()
  const pipeline = new BatchPipeline({
    genesis,
    domain,
    storage,
    mempool: new Mempool(storage),
    chain: contractChainView(reader, c.deployer, c.settlement),
    attest: async () => {},
    logger: pino({ level: 'silent' }),
    peers: {
      envelopes: async (ids) => ids.flatMap((id) => held.get(id) ?? []),
      certificate: async () => undefined,
    },
  })
  await pipeline.start()
  const node: Node = {
    c,
    pipeline,
    genesis,
    domain,
    held,
    async decide(h, ids, chainRef) {
      const ref = chainRef ?? (await c.chainRefNow())
      await pipeline.decided(
        {
          height: h,
          parentHash: `0x${'00'.repeat(32)}`,
          timestamp: h * 1000n,
          chainRef: ref,
          orderIds: [...ids].sort(),
        },
        addressOf(c.validatorKeys[0]),
      )
      const r = await pipeline.resultAt(h)
      if (!r) throw new Error(`no result at ${h}`)
      return r.result
    },
    async certifyAndSettle(r) {
      // Every honest validator computed this result: the quorum certifies it; the pipeline records it.
      const cert = certify(c.domain, r, c.validatorKeys.slice(0, 3))
      await pipeline.certified(cert)
      const outcome = await c.trySettle([r])
      if (outcome === 'ok') await c.settle([r])
      return outcome
    },
    async stop() {
      pipeline.stop()
      await storage.close()
      rmSync(dir, { recursive: true, force: true })
      await c.stop()
    },
  }
  return node
}

let envNonce = 1_000_000n

/** A plain envelope of `order` signed by `key`, registered with the node's peers; returns its id. */
function envelopeOf(n: Node, key: PrivateKey, order: Order, envelopeNonce?: bigint): Hex {
  let sealed: SealedOrder
  if (envelopeNonce === undefined) sealed = sealPlain(n.domain, order, key)
  else {
    // The same signed inner order, wrapped in another envelope (its own nonce, its own signature).
    const base = sealPlain(n.domain, order, key)
    const payloadHash = payloadHashOf(base)
    const signature = signDigest(
      sealedOrderDigest(n.domain, {
        trader: order.trader,
        batch: order.firstBatch,
        payloadHash,
        nonce: envelopeNonce,
      }),
      key,
    )
    sealed = { ...base, nonce: envelopeNonce, signature }
  }
  const id = orderIdOf(sealed)
  n.held.set(id, encodeSealedOrder(sealed))
  return id
}

function orderFor(n: Node, t: number, o: Partial<Order> & Pick<Order, 'sellAsset' | 'buyAsset'>): Order {
  return makeOrder({ trader: n.c.traderAddrs[t], nonce: envNonce++, ...o })
}

// ---------------------------------------------------------------------------------------------------------
// (b) jams a single trader can cause through honest validators
// ---------------------------------------------------------------------------------------------------------

describe('(b) single-trader jams through the honest pipeline', () => {
  it('one signed order wrapped in two envelopes of one batch does not make the certified batch unsettleable (DuplicateOrder)', async () => {
    const n = await startNode()
    try {
      const { c } = n
      // Trader 0 signs ONE order and seals it twice (two envelope nonces: two ids, both valid envelopes).
      const o = orderFor(n, 0, { sellAsset: c.aId, buyAsset: c.bId, sellAmount: 1_000n, buyAmount: 900n })
      const id1 = envelopeOf(n, c.traderKeys[0], o)
      const id2 = envelopeOf(n, c.traderKeys[0], o, o.nonce + 1n)
      expect(id1).not.toBe(id2)
      // Any counterparty (here the same trader's second account would do as well).
      const counter = orderFor(n, 1, {
        sellAsset: c.bId,
        buyAsset: c.aId,
        sellAmount: 5_000n,
        buyAmount: 1_000n,
      })
      const id3 = envelopeOf(n, c.traderKeys[1], counter)
      const r = await n.decide(1n, [id1, id2, id3])
      const outcome = await n.certifyAndSettle(r)
      expect(outcome).toBe('ok')
    } finally {
      await n.stop()
    }
  }, 120_000)

  it('a resting buy-kind order filled over two batches never needs more than its signed sellAmount (spentAmount Overfill jam)', async () => {
    const n = await startNode()
    try {
      const { c } = n
      // "Buy 30 A for at most 50 B", valid in batches 1..10. Each fill pays a fee of at least one unit (ceil),
      // which the pipeline's remainder must count as spent (else a later fill overfills `spentAmount`).
      // Ten times the attacker's review's amounts (3 A for 5 B beside a 2 A seller): with the signed ratio
      // per fill (README rule 2) a one-unit fee leaves no price at which those trade at all (1 A would
      // cost 1 B + 1 fee > 5/3), and the test would test nothing.
      const buy = orderFor(n, 0, {
        sellAsset: c.bId,
        buyAsset: c.aId,
        sellAmount: 50n,
        buyAmount: 30n,
        kind: 'buy',
        firstBatch: 1n,
        lastBatch: 10n,
      })
      const idBuy = envelopeOf(n, c.traderKeys[0], buy)
      const seller = (h: bigint, sellAmount: bigint) =>
        envelopeOf(
          n,
          c.traderKeys[1],
          orderFor(n, 1, {
            sellAsset: c.aId,
            buyAsset: c.bId,
            sellAmount,
            buyAmount: 1n,
            firstBatch: h,
            lastBatch: h,
          }),
        )
      const r1 = await n.decide(1n, [idBuy, seller(1n, 20n)])
      expect(r1.fills.length).toBe(2)
      expect(await n.certifyAndSettle(r1)).toBe('ok')
      const r2 = await n.decide(2n, [seller(2n, 100n)])
      const spent = [...r1.fills, ...r2.fills]
        .filter((f) => f.order.order.kind === 'buy')
        .reduce((s, f) => s + f.sold + f.fee, 0n)
      // The honest validators' batch 2 must settle (else Overfill: a jam, every later batch WrongHeight)...
      expect(await n.certifyAndSettle(r2)).toBe('ok')
      // ...and never spend more than the trader signed.
      expect(spent).toBeLessThanOrEqual(50n)
    } finally {
      await n.stop()
    }
  }, 120_000)

  it('an order naming a huge amount (above MAX_ORDER_AMOUNT) cannot jam the contract’s limit arithmetic', async () => {
    const n = await startNode()
    try {
      const { c } = n
      // Signed sellAmount 2^250 (the node only refuses 0 and > 2^255 − 1); funded partially by its escrow.
      const huge = orderFor(n, 0, {
        sellAsset: c.aId,
        buyAsset: c.bId,
        sellAmount: 2n ** 250n,
        buyAmount: 1n,
      })
      const counter = orderFor(n, 1, {
        sellAsset: c.bId,
        buyAsset: c.aId,
        sellAmount: 1_000n,
        buyAmount: 1n,
      })
      const r = await n.decide(1n, [
        envelopeOf(n, c.traderKeys[0], huge),
        envelopeOf(n, c.traderKeys[1], counter),
      ])
      expect(await n.certifyAndSettle(r)).toBe('ok')
    } finally {
      await n.stop()
    }
  }, 120_000)

  it('invalidateOrder at block X: the pipeline at chainRef X−1 still fills the order and the contract settles it', async () => {
    const n = await startNode()
    try {
      const { c } = n
      const rest = orderFor(n, 0, {
        sellAsset: c.aId,
        buyAsset: c.bId,
        sellAmount: 10_000n,
        buyAmount: 9_000n,
        firstBatch: 1n,
        lastBatch: 20n,
      })
      const idRest = envelopeOf(n, c.traderKeys[0], rest)
      const counter = orderFor(n, 1, {
        sellAsset: c.bId,
        buyAsset: c.aId,
        sellAmount: 5_000n,
        buyAmount: 1_000n,
      })
      const digest = toHex(orderDigest(c.domain, rest))
      await invalidateOrder(c.traders[0], c.settlement, digest)
      const [x] = await readInvalidatedAt(c.deployer, c.settlement, [{ trader: c.traderAddrs[0], digest }])
      expect(x).toBeGreaterThan(0n)
      // Certified against X − 1: decided before the cancel could be seen; the contract must take it.
      const r = await n.decide(1n, [idRest, envelopeOf(n, c.traderKeys[1], counter)], x - 1n)
      expect(r.fills.length).toBeGreaterThan(0)
      expect(await n.certifyAndSettle(r)).toBe('ok')
      // Against X: the pipeline leaves it out, so batch 2 (whatever it holds) settles.
      const counter2 = orderFor(n, 1, {
        sellAsset: c.bId,
        buyAsset: c.aId,
        sellAmount: 5_000n,
        buyAmount: 1_000n,
        firstBatch: 2n,
        lastBatch: 2n,
      })
      const r2 = await n.decide(2n, [envelopeOf(n, c.traderKeys[1], counter2)], await c.chainRefNow())
      expect(r2.fills.some((f) => f.order.order.trader.toLowerCase() === c.traderAddrs[0])).toBe(false)
      expect(await n.certifyAndSettle(r2)).toBe('ok')
    } finally {
      await n.stop()
    }
  }, 120_000)
})

// ---------------------------------------------------------------------------------------------------------
// Shared chain for contract-level attacks
// ---------------------------------------------------------------------------------------------------------

let c: SettlementChain
let nonce = 5_000n

beforeAll(async () => {
  c = await startSettlementChain({ feeBps: FEE_BPS, invalidOrderFee: INVALID_ORDER_FEE, traders: 4 })
}, 90_000)
afterAll(async () => {
  await c?.stop()
})

function priced(pA: bigint, pB: bigint): { assets: Hex[]; prices: bigint[] } {
  return c.aId < c.bId
    ? { assets: [c.aId, c.bId], prices: [pA, pB] }
    : { assets: [c.bId, c.aId], prices: [pB, pA] }
}

const next = async () => {
  const prev = await c.lastHeight()
  return { h: prev + 1n, prev, chainRef: await c.chainRefNow() }
}

/** `settle` as a call with a raw payload (bytes we edit after encoding), certified by the quorum. */
async function trySettleRaw(height: bigint, payload: Uint8Array, send = false): Promise<string> {
  const resultHash = toHex(keccak256(payload))
  const digest = batchResultDigest(c.domain, { height, resultHash })
  const sigs = c.validatorKeys
    .slice(0, 3)
    .map((k) => ({ validator: addressOf(k), signature: signDigest(digest, k) }))
    .sort((a, b) => (a.validator < b.validator ? -1 : 1))
    .map((s) => ({ v: s.signature.v, r: s.signature.r, s: s.signature.s }))
  try {
    await c.deployer.publicClient.simulateContract({
      address: c.settlement,
      abi: settlementAbi(),
      functionName: 'settle',
      args: [[{ payload: toHex(payload), signatures: sigs }]],
      account: c.deployer.account,
    })
  } catch (e) {
    return revertName(e) ?? 'reverted'
  }
  if (send) {
    const hash = await c.deployer.walletClient!.writeContract({
      address: c.settlement,
      abi: settlementAbi(),
      functionName: 'settle',
      args: [[{ payload: toHex(payload), signatures: sigs }]],
      account: c.deployer.account!,
    })
    await c.deployer.publicClient.waitForTransactionReceipt({ hash })
  }
  return 'ok'
}

describe('(a) penalty evidence: a full quorum charging what the trader did not sign', () => {
  it('evidence signed under another chain id or another settlement contract is refused (no cross-domain replay)', async () => {
    const { h, prev, chainRef } = await next()
    const otherChain: NetworkDomain = { ...c.domain, chainId: c.domain.chainId + 1n }
    const otherContract: NetworkDomain = {
      ...c.domain,
      verifyingContract: '0x00000000000000000000000000000000000000c0' as Address,
    }
    for (const d of [otherChain, otherContract]) {
      const pen = penaltyOf(d, c.traderKeys[2], h, 77)
      const r = result({
        height: h,
        prevHeight: prev,
        chainRef,
        ...priced(1n, 1n),
        fills: [],
        penalties: [pen],
      })
      expect(await c.trySettle([r])).toBe('BadPenaltyEvidence')
    }
  })

  it('one envelope named with a dirty-upper-bits / other-case trader is charged at most once', async () => {
    const victim = c.traderAddrs[2]
    const before = await c.escrow(victim, c.tokenA)
    const { h, prev, chainRef } = await next()
    const pen = penaltyOf(c.domain, c.traderKeys[2], h, 91)
    const upper = { ...pen, trader: `0x${pen.trader.slice(2).toUpperCase()}` as Address }
    const r = result({
      height: h,
      prevHeight: prev,
      chainRef,
      ...priced(1n, 1n),
      fills: [],
      penalties: [pen, upper, pen],
    })
    // The same envelope in three spellings: one charge.
    await c.settle([r])
    expect(await c.escrow(victim, c.tokenA)).toBe(before - INVALID_ORDER_FEE)
    // Dirty upper bits in the trader word of a second penalty whose evidence is the same envelope, next height.
    const n2 = await next()
    const pen2 = penaltyOf(c.domain, c.traderKeys[2], n2.h, 92)
    const r2 = result({
      height: n2.h,
      prevHeight: n2.prev,
      chainRef: n2.chainRef,
      ...priced(1n, 1n),
      fills: [],
      penalties: [pen2, pen2],
    })
    const payload = encodeSettlementPayload(r2)
    // Penalties are the last array: two entries of 8 words at the payload's end; dirty the second's trader word.
    const second = payload.length - 8 * 32
    payload[second] = 0xff
    const mid = await c.escrow(victim, c.tokenA)
    const outcome = await trySettleRaw(n2.h, payload, true)
    // Refused (the ABI decoder rejects a dirty address), or at most one charge for the one envelope.
    if (outcome === 'ok') expect(await c.escrow(victim, c.tokenA)).toBe(mid - INVALID_ORDER_FEE)
    else expect(await c.escrow(victim, c.tokenA)).toBe(mid)
  })

  it('evidence of a SealedOrder signed for height h cannot charge at h+1 even inside one multi-batch call', async () => {
    const { h, prev, chainRef } = await next()
    const pen = penaltyOf(c.domain, c.traderKeys[3], h, 301)
    const b1 = result({
      height: h,
      prevHeight: prev,
      chainRef,
      ...priced(1n, 1n),
      fills: [],
      penalties: [pen],
    })
    const b2 = result({
      height: h + 1n,
      prevHeight: h,
      chainRef,
      ...priced(1n, 1n),
      fills: [],
      penalties: [pen],
    })
    expect(await c.trySettle([b1, b2])).toBe('BadPenaltyEvidence')
  })
})

describe('(a) fills worse than signed, across one-shot / multi-batch / transient key', () => {
  it('the transient once-per-batch key does not let a multi-batch order fill twice in one batch of a multi-batch call', async () => {
    const { h, prev, chainRef } = await next()
    const p = priced(1n, 1n)
    const o = signed(
      c.domain,
      makeOrder({
        trader: c.traderAddrs[0],
        sellAsset: c.aId,
        buyAsset: c.bId,
        sellAmount: 10_000n,
        buyAmount: 1n,
        firstBatch: h,
        lastBatch: h + 5n,
        nonce: nonce++,
      }),
      c.traderKeys[0],
    )
    const buyerAt = (k: bigint) =>
      signed(
        c.domain,
        makeOrder({
          trader: c.traderAddrs[1],
          sellAsset: c.bId,
          buyAsset: c.aId,
          sellAmount: 10_000n,
          buyAmount: 1n,
          firstBatch: k,
          lastBatch: k,
          nonce: nonce++,
        }),
        c.traderKeys[1],
      )
    const f = (so: SignedOrder, x: bigint) => ({
      order: so,
      orderId: `0x${'00'.repeat(32)}` as Hex,
      sold: x,
      bought: x,
      fee: feeOf(x, FEE_BPS),
    })
    const b1 = result({
      height: h,
      prevHeight: prev,
      chainRef,
      ...p,
      fills: [f(o, 100n), f(buyerAt(h), 100n)],
    })
    const b2 = result({
      height: h + 1n,
      prevHeight: h,
      chainRef,
      ...p,
      fills: [f(o, 100n), f(o, 100n), f(buyerAt(h + 1n), 200n)],
    })
    expect(await c.trySettle([b1, b2])).toBe('DuplicateOrder')
    expect(await c.trySettle([b1])).toBe('ok')
  })

  it('fill-or-kill sell at every fee-rounding boundary: the solver’s maxSoldFor is exactly what the contract takes as whole', async () => {
    // Sell amounts around fee jumps (ceil(s·10/10⁴) steps at s = 1000k + 1).
    const Ls = [2n, 999n, 1000n, 1001n, 1002n, 1003n, 2002n, 2003n, 2004n, 3004n, 3005n]
    for (const L of Ls) {
      const { h, prev, chainRef } = await next()
      const s = maxSoldFor(L, FEE_BPS)
      const fok = signed(
        c.domain,
        makeOrder({
          trader: c.traderAddrs[0],
          sellAsset: c.aId,
          buyAsset: c.bId,
          sellAmount: L,
          buyAmount: 1n,
          partiallyFillable: false,
          firstBatch: h,
          lastBatch: h,
          nonce: nonce++,
        }),
        c.traderKeys[0],
      )
      const buyer = signed(
        c.domain,
        makeOrder({
          trader: c.traderAddrs[1],
          sellAsset: c.bId,
          buyAsset: c.aId,
          sellAmount: L * 2n,
          buyAmount: 1n,
          firstBatch: h,
          lastBatch: h,
          nonce: nonce++,
        }),
        c.traderKeys[1],
      )
      const z = `0x${'00'.repeat(32)}` as Hex
      const r = result({
        height: h,
        prevHeight: prev,
        chainRef,
        ...priced(1n, 1n),
        fills: [
          { order: fok, orderId: z, sold: s, bought: s, fee: feeOf(s, FEE_BPS) },
          { order: buyer, orderId: z, sold: s, bought: s, fee: feeOf(s, FEE_BPS) },
        ],
      })
      expect([L, await c.trySettle([r])]).toEqual([L, 'ok'])
      // One unit less is not whole.
      if (s > 1n) {
        const less = result({
          ...r,
          fills: [
            { order: fok, orderId: z, sold: s - 1n, bought: s - 1n, fee: feeOf(s - 1n, FEE_BPS) },
            { order: buyer, orderId: z, sold: s - 1n, bought: s - 1n, fee: feeOf(s - 1n, FEE_BPS) },
          ],
        })
        expect([L, await c.trySettle([less])]).toEqual([L, 'NotFilledWhole'])
      }
    }
  })
})

// ---------------------------------------------------------------------------------------------------------
// (b) honest solver output refused by the contract: random small batches
// ---------------------------------------------------------------------------------------------------------

/** Deterministic PRNG. */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('(b) clearBatch output on random small batches (fill-or-kill, buy kind, feeBps > 0) always settles', () => {
  it('200 random one-shot batches: every honest result settles (simulated) on the real contract', async () => {
    const rand = rng(19)
    const pick = (n: number) => Math.floor(rand() * n)
    const failures: string[] = []
    const { h, prev, chainRef } = await next()
    for (let run = 0; run < 200; run++) {
      const m = 2 + pick(5)
      const orders: SolverOrder[] = []
      const balances: Record<string, Record<string, bigint>> = {}
      for (let t = 0; t < 4; t++) {
        balances[c.traderAddrs[t]] = {
          [c.aId]: BigInt(pick(3) === 0 ? pick(50) : 5_000_000),
          [c.bId]: BigInt(pick(3) === 0 ? pick(50) : 5_000_000),
        }
      }
      for (let i = 0; i < m; i++) {
        const t = pick(4)
        const sellA = rand() < 0.5
        const small = rand() < 0.5
        const amt = () => BigInt(1 + pick(small ? 30 : 5000))
        const ord = makeOrder({
          trader: c.traderAddrs[t],
          sellAsset: sellA ? c.aId : c.bId,
          buyAsset: sellA ? c.bId : c.aId,
          sellAmount: amt(),
          buyAmount: amt(),
          kind: rand() < 0.5 ? 'buy' : 'sell',
          partiallyFillable: rand() < 0.6,
          firstBatch: h,
          lastBatch: h,
          nonce: nonce++,
        })
        const so = signed(c.domain, ord, c.traderKeys[t])
        orders.push({
          id: toHex(keccak256(new TextEncoder().encode(`${run}/${i}/${nonce}`))),
          trader: ord.trader,
          sellAsset: ord.sellAsset,
          buyAsset: ord.buyAsset,
          sellAmount: ord.sellAmount,
          buyAmount: ord.buyAmount,
          kind: ord.kind,
          partiallyFillable: ord.partiallyFillable,
          signed: so,
        })
      }
      // Balances must reflect escrow: simulate only against real escrow (5,000,000 each) — lower views are safe.
      const out = clearBatch({
        orders,
        balances,
        params: { numeraire: c.aId, feeBps: FEE_BPS, height: h, prevHeight: prev, chainRef },
      })
      if (out.result.fills.length === 0) continue
      const outcome = await c.trySettle([out.result])
      if (outcome !== 'ok') {
        failures.push(
          `${outcome}: ${JSON.stringify(
            orders.map((o) => [
              o.kind,
              o.partiallyFillable,
              o.sellAmount,
              o.buyAmount,
              o.sellAsset === c.aId,
            ]),
            (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
          )} prices ${out.result.prices} fills ${JSON.stringify(
            out.result.fills.map((f) => [f.sold, f.bought, f.fee]),
            (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
          )}`,
        )
      }
    }
    expect(failures.slice(0, 5)).toEqual([])
  }, 300_000)
})

describe('(a)/(c) voids and forced withdrawals', () => {
  it('a quorum that only submits voided batches (each restarting the settle clock) still cannot freeze a requested withdrawal past escapeBlocks', async () => {
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e) => revertName(e) ?? String(e),
      )
    // Open the hatch and escape once, so batches with an older chainRef are voided from now on.
    await c.mine(1001)
    const stale = await c.chainRefNow()
    expect(await outcome(escapeWithdraw(c.traders[3], c.settlement, c.tokenA, 1n))).toBe('ok')
    const t = c.traders[2]
    await requestWithdrawal(t, c.settlement, c.tokenB, 777n)
    const { requestBlock } = await readEscrow(c.deployer, c.settlement, t.account!.address, c.tokenB)
    // The quorum keeps voiding (old chainRef) every 400 blocks: the hatch never opens again.
    for (let i = 0; i < 2; i++) {
      await c.mine(400)
      const prev = await c.lastHeight()
      await c.settle([
        result({ height: prev + 1n, prevHeight: prev, chainRef: stale, ...priced(1n, 1n), fills: [] }),
      ])
      expect(await outcome(escapeWithdraw(c.traders[3], c.settlement, c.tokenA, 1n))).toMatch(
        /EscapeNotActive/,
      )
    }
    const now = await c.deployer.publicClient.getBlockNumber({ cacheTime: 0 })
    await c.mine(Number(requestBlock + 1000n - now))
    const before = await c.escrow(c.traderAddrs[2], c.tokenB)
    expect(await outcome(claimWithdrawal(t, c.settlement, c.tokenB))).toBe('ok')
    expect(await c.escrow(c.traderAddrs[2], c.tokenB)).toBe(before - 777n)
  }, 120_000)
})
