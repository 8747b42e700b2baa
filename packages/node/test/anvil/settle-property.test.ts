// Issue 19, the test that keeps the funds promise: random payloads signed by a full quorum — random
// prices, fills of real signed orders (one-shot and resting, fill-or-kill or not, within and beyond what
// they signed), duplicates, empty fills, penalties with real, forged and misplaced evidence — go to the
// real contract on anvil. Whatever `settle` accepts must keep, for every order across every batch:
//   a fill moves something both ways (sold > 0 and bought > 0) and an order appears once per batch;
//   Σ(sold + fee) ≤ sellAmount, and for buy kind Σ bought ≤ buyAmount;
//   the prices respect its limit and the amounts are the uniform-price amounts (floor/ceil);
//   each fill keeps the trader's signed ratio after rounding, bought·sellAmount ≥ (sold + fee)·buyAmount
//   (checked per fill; for a resting order each of its fills in each batch keeps it);
//   fill-or-kill: one fill ever, of the whole order;
//   a penalty is charged only with the trader's own signed envelope of that height, once per envelope;
// and every account's escrow is exactly what those checked fills and penalties make it: nothing else moves.
// Runs: SETTLE_PROPERTY_RUNS (default 500); seed: SETTLE_PROPERTY_SEED (default 19).
import {
  type Address,
  boughtForSold,
  type ClearingResult,
  type Fill,
  feeOf,
  type Hex,
  type Order,
  orderDigest,
  type Penalty,
  priceRespectsLimit,
  recoverAddress,
  type SignedOrder,
  sealedOrderDigest,
  soldForBought,
  toHex,
} from '@allot/protocol'
import fc from 'fast-check'
import { parseEventLogs } from 'viem'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { settlementAbi } from '../../src/settlement/index.js'
import { makeOrder, penaltyOf, result, signed } from './fixtures.js'
import { type SettlementChain, startSettlementChain } from './harness.js'

const RUNS = Number(process.env.SETTLE_PROPERTY_RUNS ?? 500)
const SEED = Number(process.env.SETTLE_PROPERTY_SEED ?? 19)
const TRADERS = 3
const DEPOSIT = 10n ** 15n

let c: SettlementChain
let nonce = 1n
/** Resting (multi-batch) orders reused across runs, so cumulative fills build up across batches. */
const resting: SignedOrder[] = []

beforeAll(async () => {
  c = await startSettlementChain({ feeBps: 30n, invalidOrderFee: 7n, traders: TRADERS, deposit: DEPOSIT })
  for (let i = 0; i < 12; i++) {
    const t = i % TRADERS
    const aToB = i % 2 === 0
    resting.push(
      signed(
        c.domain,
        makeOrder({
          trader: c.traderAddrs[t],
          sellAsset: aToB ? c.aId : c.bId,
          buyAsset: aToB ? c.bId : c.aId,
          sellAmount: 2_000n + BigInt(i) * 700n,
          buyAmount: 1_000n + BigInt(i) * 300n,
          kind: i % 3 === 0 ? 'buy' : 'sell',
          partiallyFillable: i % 4 !== 1,
          firstBatch: 1n,
          lastBatch: 10n ** 9n,
          nonce: 1_000_000n + BigInt(i),
        }),
        c.traderKeys[t],
      ),
    )
  }
}, 120_000)
afterAll(async () => {
  await c?.stop()
})

/** One side of a trade as the generator describes it, before it becomes a signed order and a fill. */
interface SideSpec {
  trader: number
  /** Index into `resting`, or -1 for a fresh one-shot order. */
  resting: number
  kind: 'sell' | 'buy'
  fok: boolean
  /** Signed exactly at the batch's price level with the fee (zero slack): rounding decides the ratio. */
  marginal: boolean
  /** The order's amounts as multiples (in tenths) of the fill's own amounts: < 10 signs less than is filled. */
  sellTenths: number
  buyTenths: number
}

interface PairSpec {
  /** Units of A that move from the A-seller to the A-buyer. */
  a: bigint
  seller: SideSpec
  buyer: SideSpec
}

type Mutation =
  | { kind: 'none' }
  | { kind: 'duplicate'; fill: number }
  | { kind: 'zeroBought'; fill: number }
  | { kind: 'halve'; fill: number }

type PenaltySpec = { trader: number; tag: number; how: 'real' | 'forged' | 'otherHeight' }

const side = fc.record({
  trader: fc.integer({ min: 0, max: TRADERS - 1 }),
  resting: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 11 })),
  kind: fc.constantFrom<'sell' | 'buy'>('sell', 'buy'),
  fok: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, fc.constant(true)),
  marginal: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, fc.constant(true)),
  sellTenths: fc.integer({ min: 8, max: 40 }),
  buyTenths: fc.integer({ min: 1, max: 12 }),
})
const batchArb = fc.record({
  pA: fc.bigInt({ min: 1n, max: 1000n }),
  pB: fc.bigInt({ min: 1n, max: 1000n }),
  pairs: fc.array(fc.record({ a: fc.bigInt({ min: 1n, max: 3000n }), seller: side, buyer: side }), {
    minLength: 0,
    maxLength: 3,
  }),
  mutation: fc.oneof(
    { weight: 3, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
    fc.record({ kind: fc.constant('duplicate' as const), fill: fc.nat(5) }),
    fc.record({ kind: fc.constant('zeroBought' as const), fill: fc.nat(5) }),
    fc.record({ kind: fc.constant('halve' as const), fill: fc.nat(5) }),
  ),
  penalties: fc.array(
    fc.record({
      trader: fc.integer({ min: 0, max: TRADERS - 1 }),
      tag: fc.integer({ min: 1, max: 3 }),
      how: fc.oneof(
        { weight: 6, arbitrary: fc.constant<PenaltySpec['how']>('real') },
        fc.constant<PenaltySpec['how']>('forged'),
        fc.constant<PenaltySpec['how']>('otherHeight'),
      ),
    }),
    { maxLength: 3 },
  ),
})

type BatchSpec = typeof batchArb extends fc.Arbitrary<infer T> ? T : never

/** The uniform-price fill of `o` with `amount` sold (sell kind) or bought (buy kind). */
function fillOf(o: SignedOrder, amount: bigint, pSell: bigint, pBuy: bigint): Fill {
  const k = o.order.kind
  const sold = k === 'sell' ? amount : soldForBought(amount, pSell, pBuy)
  const bought = k === 'sell' ? boughtForSold(amount, pSell, pBuy) : amount
  return { order: o, orderId: `0x${'00'.repeat(32)}`, sold, bought, fee: feeOf(sold, c.feeBps) }
}

/** A side's order (fresh one-shot at h, or a resting one on the same side) sized around its fill. */
function orderFor(
  s: SideSpec,
  sellsA: boolean,
  sold: bigint,
  bought: bigint,
  h: bigint,
  pSell: bigint,
  pBuy: bigint,
): SignedOrder {
  if (s.resting >= 0) {
    // Take the resting order of this side nearest the spec (pool alternates sides).
    const i = (s.resting - (s.resting % 2) + (sellsA ? 0 : 1)) % resting.length
    return resting[i]
  }
  // A fill-or-kill order is mostly signed for exactly its fill (whole), sometimes for more (then refused).
  const exact = s.fok && s.sellTenths < 24
  if (s.marginal && !exact) {
    // sellAmount·pSell·10⁴ = buyAmount·pBuy·(10⁴ + fee): the limit holds with no slack at all, so a
    // fill keeps the signed ratio only where floor and ceilings are exact.
    const unitS = pBuy * (10_000n + c.feeBps)
    const unitB = pSell * 10_000n
    const g = gcd(unitS, unitB)
    const need = (sold + feeOf(sold, c.feeBps)) * g
    let m = (need + unitS - 1n) / unitS
    const mB = (bought * g + unitB - 1n) / unitB
    if (mB > m) m = mB
    m = m + (m * BigInt(s.sellTenths)) / 10n
    const o = makeOrder({
      trader: c.traderAddrs[s.trader],
      sellAsset: sellsA ? c.aId : c.bId,
      buyAsset: sellsA ? c.bId : c.aId,
      sellAmount: (m * unitS) / g,
      buyAmount: (m * unitB) / g,
      kind: s.kind,
      partiallyFillable: !s.fok,
      firstBatch: h,
      lastBatch: h,
      nonce: nonce++,
    })
    return signed(c.domain, o, c.traderKeys[s.trader])
  }
  const o: Order = makeOrder({
    trader: c.traderAddrs[s.trader],
    sellAsset: sellsA ? c.aId : c.bId,
    buyAsset: sellsA ? c.bId : c.aId,
    sellAmount:
      exact && s.kind === 'sell'
        ? sold + feeOf(sold, c.feeBps)
        : 1n + ((sold + feeOf(sold, c.feeBps)) * BigInt(s.sellTenths)) / 10n,
    buyAmount: exact && s.kind === 'buy' ? bought : 1n + (bought * BigInt(s.buyTenths)) / 10n,
    kind: s.kind,
    partiallyFillable: !s.fok,
    firstBatch: h,
    lastBatch: h,
    nonce: nonce++,
  })
  return signed(c.domain, o, c.traderKeys[s.trader])
}

function buildBatch(x: BatchSpec, h: bigint, prev: bigint, chainRef: bigint): ClearingResult {
  const aFirst = c.aId < c.bId
  const price = (asset: Hex) => (asset === c.aId ? x.pA : x.pB)
  const fills: Fill[] = []
  for (const p of x.pairs as PairSpec[]) {
    // The A-seller's fill, then the A-buyer's, sized so that both assets are conserved when honest.
    const sellerO = orderFor(p.seller, true, p.a, boughtForSold(p.a, x.pA, x.pB), h, x.pA, x.pB)
    const sf =
      sellerO.order.kind === 'sell'
        ? fillOf(sellerO, p.a, price(sellerO.order.sellAsset), price(sellerO.order.buyAsset))
        : fillOf(
            sellerO,
            boughtForSold(p.a, x.pA, x.pB),
            price(sellerO.order.sellAsset),
            price(sellerO.order.buyAsset),
          )
    const buyerO = orderFor(p.buyer, false, sf.bought, sf.sold, h, x.pB, x.pA)
    const bf =
      buyerO.order.kind === 'buy'
        ? fillOf(buyerO, sf.sold, price(buyerO.order.sellAsset), price(buyerO.order.buyAsset))
        : fillOf(buyerO, sf.bought, price(buyerO.order.sellAsset), price(buyerO.order.buyAsset))
    fills.push(sf, bf)
  }
  const m = x.mutation as Mutation
  if (m.kind !== 'none' && fills.length > 0) {
    const i = m.fill % fills.length
    if (m.kind === 'duplicate') fills.push(fills[i])
    if (m.kind === 'zeroBought') fills[i] = { ...fills[i], bought: 0n }
    if (m.kind === 'halve') {
      const f = fills[i]
      const p = (a: Hex) => price(a)
      const amount = f.order.order.kind === 'sell' ? f.sold / 2n : f.bought / 2n
      fills[i] = fillOf(f.order, amount, p(f.order.order.sellAsset), p(f.order.order.buyAsset))
    }
  }
  const penalties: Penalty[] = (x.penalties as PenaltySpec[]).map((s) => {
    if (s.how === 'real') return penaltyOf(c.domain, c.traderKeys[s.trader], h, s.tag)
    if (s.how === 'otherHeight') return penaltyOf(c.domain, c.traderKeys[s.trader], h + 1n, s.tag)
    const other = (s.trader + 1) % TRADERS
    return { ...penaltyOf(c.domain, c.traderKeys[other], h, s.tag), trader: c.traderAddrs[s.trader] }
  })
  return result({
    height: h,
    prevHeight: prev,
    chainRef,
    assets: aFirst ? [c.aId, c.bId] : [c.bId, c.aId],
    prices: aFirst ? [x.pA, x.pB] : [x.pB, x.pA],
    fills,
    penalties,
  })
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b]
  return a
}

// ---- the model: what settled, checked against the promises ----

const spent = new Map<Hex, bigint>() // Σ(sold + fee) per order digest
const got = new Map<Hex, bigint>() // Σ bought per order digest
const fillsOf = new Map<Hex, number>() // number of fills per order digest
const charged = new Set<Hex>() // SealedOrder digests charged
const escrow = new Map<string, bigint>() // trader:token → expected escrow
const key = (trader: Address, token: Address) => `${trader}:${token.toLowerCase()}`
const tokenOf = (asset: Hex) => `0x${asset.slice(26)}` as Address

function checkAndApply(r: ClearingResult, logs: readonly { eventName: string; args: unknown }[]): void {
  const seenInBatch = new Set<Hex>()
  const price = (asset: Hex) => r.prices[r.assets.indexOf(asset)]
  for (const f of r.fills) {
    const o = f.order.order
    const d = toHex(orderDigest(c.domain, o))
    expect(f.sold > 0n && f.bought > 0n, 'a fill moves something both ways').toBe(true)
    expect(seenInBatch.has(d), 'an order appears once per batch').toBe(false)
    seenInBatch.add(d)
    const pS = price(o.sellAsset)
    const pB = price(o.buyAsset)
    expect(priceRespectsLimit(o, pS, pB, c.feeBps), 'prices respect the limit').toBe(true)
    if (o.kind === 'sell') expect(f.bought).toBe(boughtForSold(f.sold, pS, pB))
    else expect(f.sold).toBe(soldForBought(f.bought, pS, pB))
    expect(f.fee).toBe(feeOf(f.sold, c.feeBps))
    expect(
      f.bought * o.sellAmount >= (f.sold + f.fee) * o.buyAmount,
      'the signed ratio after rounding: bought·sellAmount ≥ (sold + fee)·buyAmount',
    ).toBe(true)
    const s = (spent.get(d) ?? 0n) + f.sold + f.fee
    const g = (got.get(d) ?? 0n) + f.bought
    spent.set(d, s)
    got.set(d, g)
    fillsOf.set(d, (fillsOf.get(d) ?? 0) + 1)
    expect(s <= o.sellAmount, 'Σ(sold + fee) ≤ sellAmount').toBe(true)
    if (o.kind === 'buy') expect(g <= o.buyAmount, 'Σ bought ≤ buyAmount').toBe(true)
    if (!o.partiallyFillable) {
      expect(fillsOf.get(d), 'fill-or-kill: one fill ever').toBe(1)
      if (o.kind === 'buy') expect(f.bought).toBe(o.buyAmount)
      else {
        // Whole: sold + fee fits in sellAmount and one unit more would not.
        expect(f.sold + f.fee <= o.sellAmount).toBe(true)
        expect(f.sold + 1n + feeOf(f.sold + 1n, c.feeBps) > o.sellAmount).toBe(true)
      }
    }
    const t = o.trader.toLowerCase() as Address
    const kb = key(t, tokenOf(o.buyAsset))
    const ks = key(t, tokenOf(o.sellAsset))
    escrow.set(kb, (escrow.get(kb) ?? DEPOSIT) + f.bought)
    escrow.set(ks, (escrow.get(ks) ?? DEPOSIT) - f.sold - f.fee)
  }
  // Penalties: each charge is backed by the trader's own envelope of this height, once per envelope.
  const events = logs.filter((l) => l.eventName === 'OrderPenalized') as unknown as {
    args: { height: bigint; trader: Address; orderId: Hex; charged: bigint }
  }[]
  let e = 0
  for (const p of r.penalties) {
    const fields = {
      trader: p.trader,
      batch: p.evidence.batch,
      payloadHash: p.evidence.payloadHash,
      nonce: p.evidence.nonce,
    }
    const digest = sealedOrderDigest(c.domain, fields)
    const valid =
      p.evidence.batch === r.height && recoverAddress(digest, p.evidence.signature) === p.trader.toLowerCase()
    expect(valid, 'a settled penalty carries valid evidence').toBe(true)
    if (charged.has(toHex(digest))) continue
    charged.add(toHex(digest))
    const ev = events[e++]
    expect(ev?.args.trader.toLowerCase()).toBe(p.trader.toLowerCase())
    const k = key(p.trader.toLowerCase() as Address, c.tokenA)
    const bal = escrow.get(k) ?? DEPOSIT
    const charge = bal < c.invalidOrderFee ? bal : c.invalidOrderFee
    expect(ev.args.charged, 'a penalty charges invalidOrderFee, capped at the escrow').toBe(charge)
    escrow.set(k, bal - charge)
  }
  expect(e, 'one charge per envelope, no other').toBe(events.length)
}

it(`whatever a full quorum signs, settle keeps every order's and account's promise (${RUNS} runs)`, {
  timeout: 600_000,
}, async () => {
  let settled = 0
  const outcomes = new Map<string, number>()
  await fc.assert(
    fc.asyncProperty(batchArb, async (x) => {
      const prev = await c.lastHeight()
      const r = buildBatch(x, prev + 1n, prev, await c.chainRefNow())
      const outcome = await c.trySettle([r])
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
      if (outcome !== 'ok') return
      const receipt = await c.settle([r])
      settled++
      const logs = parseEventLogs({ abi: settlementAbi(), logs: receipt.logs as never })
      checkAndApply(r, logs as never)
      for (const t of c.traderAddrs) {
        for (const token of [c.tokenA, c.tokenB]) {
          expect(await c.escrow(t, token), `escrow of ${t} in ${token}`).toBe(
            escrow.get(key(t, token)) ?? DEPOSIT,
          )
        }
      }
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  )
  console.log(`settled ${settled} of ${RUNS}:`, Object.fromEntries(outcomes))
  // The generator must reach both sides: batches that settle and each kind of refusal.
  expect(settled).toBeGreaterThan(RUNS / 5)
})
