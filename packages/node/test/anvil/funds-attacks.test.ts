// Issue 19: the funds promises tried as an attacker would, with the validators' own keys (a full quorum
// signs every payload here) against the real contract on anvil. Each test names the point of the issue
// it holds; each attack succeeded against the contract before this change.
import type { Address, ClearingResult, Hex, Order, Penalty, SignedOrder } from '@allot/protocol'
import { feeOf, orderDigest, toHex } from '@allot/protocol'
import { parseEventLogs } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  claimWithdrawal,
  escapeWithdraw,
  invalidateOrder,
  readEscrow,
  readInvalidatedAt,
  readProgress,
  requestWithdrawal,
  revertName,
  settlementAbi,
} from '../../src/settlement/index.js'
import { makeOrder, penaltyOf, result, signed } from './fixtures.js'
import { type SettlementChain, startSettlementChain } from './harness.js'

let c: SettlementChain
let nonce = 1000n

beforeAll(async () => {
  c = await startSettlementChain({ feeBps: 10n, invalidOrderFee: 500n })
}, 90_000)
afterAll(async () => {
  await c?.stop()
})

/** The height orders are signed for by default (one-shot); each test sets it to the next height. */
let cur = 0n

/** A signed order of trader `t` (index into the chain's traders), fresh nonce, one-shot at `cur` by default. */
function order(t: number, o: Partial<Order> & Pick<Order, 'sellAsset' | 'buyAsset'>): SignedOrder {
  return signed(
    c.domain,
    makeOrder({ trader: c.traderAddrs[t], nonce: nonce++, firstBatch: cur, lastBatch: cur, ...o }),
    c.traderKeys[t],
  )
}

/** Prices in the contract's asset order from a price of A and one of B. */
function priced(pA: bigint, pB: bigint): { assets: Hex[]; prices: bigint[] } {
  return c.aId < c.bId
    ? { assets: [c.aId, c.bId], prices: [pA, pB] }
    : { assets: [c.bId, c.aId], prices: [pB, pA] }
}

function fill(o: SignedOrder, sold: bigint, bought: bigint) {
  return { order: o, orderId: `0x${'00'.repeat(32)}` as Hex, sold, bought, fee: feeOf(sold, c.feeBps) }
}

let height = 0n
/** The next batch after what has settled (or after `after`, for several batches in one call). */
async function batch(
  p: { assets: Hex[]; prices: bigint[] },
  fills: ReturnType<typeof fill>[],
  penalties: Penalty[] = [],
  after?: ClearingResult,
): Promise<ClearingResult> {
  const prev = after?.height ?? (await c.lastHeight())
  height = prev + 1n
  return result({ height, prevHeight: prev, chainRef: await c.chainRefNow(), ...p, fills, penalties })
}

const nextHeight = async () => {
  cur = (await c.lastHeight()) + 1n
  return cur
}

describe('point 1: a penalty needs the trader’s own signed envelope of that height', () => {
  it('a full quorum cannot drain a depositor who never traded', async () => {
    const victim = 2
    const addr = c.traderAddrs[victim]
    const before = await c.escrow(addr, c.tokenA)
    const p = priced(1n, 1n)
    const h = await nextHeight()
    // Ten penalty-only batches in one call, each "charging" the victim without any envelope of theirs:
    // signed by someone else in the victim's name...
    const forged = penaltyOf(c.domain, c.traderKeys[0], h, 1)
    const ten: ClearingResult[] = []
    for (let i = 0; i < 10; i++)
      ten.push(await batch(p, [], [{ ...forged, trader: addr }], ten[ten.length - 1]))
    expect(await c.trySettle(ten)).toBe('BadPenaltyEvidence')
    // ...or the victim's real envelope of height h used again at h+1..h+9.
    const real = penaltyOf(c.domain, c.traderKeys[victim], h, 2)
    const again: ClearingResult[] = []
    for (let i = 0; i < 10; i++) again.push(await batch(p, [], [real], again[again.length - 1]))
    expect(await c.trySettle(again)).toBe('BadPenaltyEvidence')
    // The real envelope at its own height is charged — once, even if the payload names it twice.
    await c.settle([await batch(p, [], [real, real])])
    expect(await c.escrow(addr, c.tokenA)).toBe(before - c.invalidOrderFee)
  })
})

describe('point 8: bad orders of one trader cannot jam settlement', () => {
  it('two bad envelopes of one trader in one batch are each charged, and the batch settles', async () => {
    const addr = c.traderAddrs[1]
    const before = await c.escrow(addr, c.tokenA)
    const h = await nextHeight()
    const pens = [1, 2, 3].map((tag) => penaltyOf(c.domain, c.traderKeys[1], h, 100 + tag, BigInt(tag)))
    await c.settle([await batch(priced(1n, 1n), [], pens)])
    expect(await c.escrow(addr, c.tokenA)).toBe(before - 3n * c.invalidOrderFee)
  })
})

describe('point 2: no fill worse than its trader signed', () => {
  it('a sale for nothing is refused (sold > 0, bought = 0)', async () => {
    // "Sell 20,000 A for at least 1 B" at 1 B = 1000 A: 999 A buy floor(0.999) = 0 B.
    await nextHeight()
    const p = priced(1n, 1000n)
    const o = order(0, { sellAsset: c.aId, buyAsset: c.bId, sellAmount: 20_000n, buyAmount: 1n })
    expect(await c.trySettle([await batch(p, [fill(o, 999n, 0n)])])).toBe('EmptyFill')
  })

  it('an order appears at most once in a batch, whatever its window', async () => {
    const h = await nextHeight()
    const p = priced(1n, 1n)
    const seller = order(0, {
      sellAsset: c.aId,
      buyAsset: c.bId,
      sellAmount: 20_000n,
      buyAmount: 10_000n,
      firstBatch: h,
      lastBatch: h + 10n,
    })
    const buyer = order(1, {
      sellAsset: c.bId,
      buyAsset: c.aId,
      sellAmount: 30_000n,
      buyAmount: 1n,
      firstBatch: h,
      lastBatch: h,
    })
    const twice = await batch(p, [
      fill(seller, 999n, 999n),
      fill(seller, 999n, 999n),
      fill(buyer, 1998n, 1998n),
    ])
    expect(await c.trySettle([twice])).toBe('DuplicateOrder')
    // Once per batch, in consecutive batches of one call, is fine.
    const b1 = await batch(p, [fill(seller, 999n, 999n), fill(buyer, 999n, 999n)])
    const buyer2 = order(1, {
      sellAsset: c.bId,
      buyAsset: c.aId,
      sellAmount: 30_000n,
      buyAmount: 1n,
      firstBatch: h + 1n,
      lastBatch: h + 1n,
    })
    const b2 = await batch(p, [fill(seller, 999n, 999n), fill(buyer2, 999n, 999n)], [], b1)
    expect(await c.trySettle([b1, b2])).toBe('ok')
  })

  it('a buy-kind order never pays more than its sellAmount, fee included, in one batch or across many', async () => {
    // "Buy 1000 A for at most 5 B" at 1 B = 201 A: the limit holds at the price level, but each fill's
    // rounding (sold up, fee up) costs 5 + 1 B for 1000 A.
    await nextHeight()
    const p = priced(1n, 201n)
    const buy = order(1, { sellAsset: c.bId, buyAsset: c.aId, sellAmount: 5n, buyAmount: 1000n, kind: 'buy' })
    const sell = order(0, { sellAsset: c.aId, buyAsset: c.bId, sellAmount: 1001n, buyAmount: 4n })
    // Refused by the per-fill ratio (1000·5 < (5 + 1)·1000), which is checked before the caps: with
    // Σ bought ≤ buyAmount it implies Σ(sold + fee) ≤ sellAmount, so the spent cap is a second defence.
    expect(await c.trySettle([await batch(p, [fill(buy, 5n, 1000n), fill(sell, 1000n, 4n)])])).toBe(
      'RatioViolated',
    )
    // A multi-batch one, 250 A at a time: each batch would cost 2 + 1 B, so the second would pass 5 B;
    // already the first breaks the signed ratio (250·5 < 3·1000).
    const h = await nextHeight()
    const resting = order(1, {
      sellAsset: c.bId,
      buyAsset: c.aId,
      sellAmount: 5n,
      buyAmount: 1000n,
      kind: 'buy',
      firstBatch: h,
      lastBatch: h + 10n,
    })
    const seller = () => order(0, { sellAsset: c.aId, buyAsset: c.bId, sellAmount: 251n, buyAmount: 1n })
    const b1 = await batch(p, [fill(resting, 2n, 250n), fill(seller(), 250n, 1n)])
    expect(await c.trySettle([b1])).toBe('RatioViolated')
  })
})

describe('point 2: the signed ratio holds per fill, after rounding', () => {
  it('a fill within the price-level limit but a unit short of the signed ratio is refused (RatioViolated)', async () => {
    // "Sell 10,010 A for at least 10,000 B" at 1 A = 1 B with a 10 bps fee: the limit holds at the price
    // level exactly (10,010·1·10⁴ = 10,000·1·10,010), but 999 A sold pay a fee of ⌈0.999⌉ = 1 and buy
    // ⌊999⌋ = 999 B: 999·10,010 = 9,999,990 < (999 + 1)·10,000. The trader gets 999 B for 1,000 A of
    // debit, worse than the 10,000 for 10,010 it signed. The same for a buy-kind order buying 999 B.
    await nextHeight()
    const p = priced(1n, 1n)
    const marginal = { sellAsset: c.aId, buyAsset: c.bId, sellAmount: 10_010n, buyAmount: 10_000n }
    const seller = order(0, marginal)
    const buyer = () => order(1, { sellAsset: c.bId, buyAsset: c.aId, sellAmount: 30_000n, buyAmount: 1n })
    const b = buyer()
    const f = fill(seller, 999n, 999n)
    expect([f.bought, f.fee]).toEqual([999n, 1n]) // the uniform-price amounts, fee rounded up
    expect(await c.trySettle([await batch(p, [f, fill(b, 999n, 999n)])])).toBe('RatioViolated')
    const buyKind = order(0, { ...marginal, kind: 'buy' })
    expect(await c.trySettle([await batch(p, [fill(buyKind, 999n, 999n), fill(b, 999n, 999n)])])).toBe(
      'RatioViolated',
    )
    // One more unit sold keeps the ratio (1,000·10,010 = 1,001·10,000): the same order then settles.
    const before = await c.escrow(c.traderAddrs[0], c.tokenA)
    await c.settle([await batch(p, [fill(seller, 1000n, 1000n), fill(b, 1000n, 1000n)])])
    expect(await c.escrow(c.traderAddrs[0], c.tokenA)).toBe(before - 1001n)
  })
})

describe('point 3: fill-or-kill is enforced on chain', () => {
  it('a fill-or-kill order is filled whole or not at all, across its window', async () => {
    const p = priced(1n, 1n)
    const h = await nextHeight()
    const fok = order(0, {
      sellAsset: c.aId,
      buyAsset: c.bId,
      sellAmount: 100_000n,
      buyAmount: 90_000n,
      partiallyFillable: false,
      firstBatch: h,
      lastBatch: h + 10n,
    })
    const buyer = (n: bigint) =>
      order(1, { sellAsset: c.bId, buyAsset: c.aId, sellAmount: n * 2n, buyAmount: 1n })
    expect(await c.trySettle([await batch(p, [fill(fok, 999n, 999n), fill(buyer(999n), 999n, 999n)])])).toBe(
      'NotFilledWhole',
    )
    // Whole: the most that fits in 100,000 with its fee (99,900 + 100).
    const whole = 99_900n
    expect(whole + feeOf(whole, c.feeBps)).toBe(100_000n)
    await c.settle([await batch(p, [fill(fok, whole, whole), fill(buyer(whole), whole, whole)])])
    // Filled once: any later fill is refused.
    await nextHeight()
    // (10 units: a fill that keeps the signed ratio, 10·100,000 ≥ (10 + 1)·90,000, so only the cap refuses it.)
    expect(await c.trySettle([await batch(p, [fill(fok, 10n, 10n), fill(buyer(10n), 10n, 10n)])])).toMatch(
      /Overfill|NotFilledWhole/,
    )
    // A buy-kind fill-or-kill order buys exactly its buyAmount.
    const fokBuy = order(1, {
      sellAsset: c.bId,
      buyAsset: c.aId,
      sellAmount: 2_000n,
      buyAmount: 1_000n,
      kind: 'buy',
      partiallyFillable: false,
    })
    const seller = order(0, { sellAsset: c.aId, buyAsset: c.bId, sellAmount: 2_000n, buyAmount: 1n })
    expect(await c.trySettle([await batch(p, [fill(fokBuy, 999n, 999n), fill(seller, 999n, 999n)])])).toBe(
      'NotFilledWhole',
    )
    expect(
      await c.trySettle([await batch(p, [fill(fokBuy, 1000n, 1000n), fill(seller, 1000n, 1000n)])]),
    ).toBe('ok')
  })
})

describe('point 6: heights cannot be pushed to the end of uint64', () => {
  it('one call advances the settled height by at most 2³²', async () => {
    const last = await c.lastHeight()
    const p = priced(1n, 1n)
    const far = result({
      height: last + 2n ** 32n + 1n,
      prevHeight: last,
      chainRef: await c.chainRefNow(),
      ...p,
      fills: [],
    })
    expect(await c.trySettle([far])).toBe('HeightTooFar')
    const end = result({
      height: 2n ** 64n - 1n,
      prevHeight: last,
      chainRef: await c.chainRefNow(),
      ...p,
      fills: [],
    })
    expect(await c.trySettle([end])).toBe('HeightTooFar')
    // Two steps of 2³¹ + 1 in one call pass 2³² together.
    const a = result({
      height: last + 2n ** 31n + 1n,
      prevHeight: last,
      chainRef: await c.chainRefNow(),
      ...p,
      fills: [],
    })
    const b = result({
      height: a.height + 2n ** 31n + 1n,
      prevHeight: a.height,
      chainRef: a.chainRef,
      ...p,
      fills: [],
    })
    expect(await c.trySettle([a])).toBe('ok')
    expect(await c.trySettle([a, b])).toBe('HeightTooFar')
  })
})

describe('point 7: no uint128 truncation', () => {
  it('a withdrawal request past 2¹²⁸ reverts instead of wrapping to nothing', async () => {
    const { mintTestToken, depositToEscrow } = await import('../../src/settlement/index.js')
    const t = c.traders[2]
    const big = 2n ** 128n
    await mintTestToken(c.deployer, c.tokenB, t.account!.address, big)
    await depositToEscrow(t, c.settlement, c.tokenB, big)
    const err = await requestWithdrawal(t, c.settlement, c.tokenB, big).then(
      () => 'ok',
      (e) => revertName(e) ?? String(e),
    )
    expect(err).toMatch(/AmountTooLarge/)
    await requestWithdrawal(t, c.settlement, c.tokenB, big - 1n)
    const more = await requestWithdrawal(t, c.settlement, c.tokenB, 1n).then(
      () => 'ok',
      (e) => revertName(e) ?? String(e),
    )
    expect(more).toMatch(/AmountTooLarge/)
    expect((await readProgress(c.deployer, c.settlement)).lastHeight).toBeGreaterThanOrEqual(0n)
  })
})

describe('point 5: a trader has a way out of a resting order', () => {
  it('invalidateOrder: no batch certified against that block or later fills it; earlier ones still may', async () => {
    const h = await nextHeight()
    const p = priced(1n, 1n)
    const rest = order(0, {
      sellAsset: c.aId,
      buyAsset: c.bId,
      sellAmount: 10_000n,
      buyAmount: 9_000n,
      firstBatch: h,
      lastBatch: h + 100n,
    })
    const digest = toHex(orderDigest(c.domain, rest.order))
    const counter = () => order(1, { sellAsset: c.bId, buyAsset: c.aId, sellAmount: 5_000n, buyAmount: 1n })
    // Certified before the cancel (its chainRef predates it): still settles afterwards.
    const before = await batch(p, [fill(rest, 1_000n, 1_000n), fill(counter(), 1_000n, 1_000n)])
    // Another account cannot cancel it: invalidations live under the caller's own address.
    await invalidateOrder(c.traders[2], c.settlement, digest)
    await invalidateOrder(c.traders[0], c.settlement, digest)
    const at = (await readInvalidatedAt(c.deployer, c.settlement, [{ trader: c.traderAddrs[0], digest }]))[0]
    expect(at).toBeGreaterThan(before.chainRef)
    expect(
      await readInvalidatedAt(c.deployer, c.settlement, [{ trader: c.traderAddrs[0], digest }], at - 1n),
    ).toEqual([0n])
    await c.settle([before])
    // Certified against the cancel's block or later: refused.
    await nextHeight()
    const after = await batch(p, [fill(rest, 1_000n, 1_000n), fill(counter(), 1_000n, 1_000n)])
    expect(after.chainRef).toBeGreaterThanOrEqual(at)
    expect(await c.trySettle([after])).toBe('FillOfInvalidatedOrder')
  })
})

const ESCAPE_BLOCKS = 1000 // the harness's deployment

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e) => revertName(e) ?? String(e),
  )

describe('point 4: a requested withdrawal is payable within escapeBlocks, whatever the quorum does', () => {
  it('a quorum that keeps settling batches older than the request cannot freeze it', async () => {
    const t = c.traders[0]
    const token = c.tokenB
    // A chainRef from before the request: the quorum certifies only batches that never "see" it.
    const stale = await c.chainRefNow()
    await requestWithdrawal(t, c.settlement, token, 1234n)
    const { requestBlock } = await readEscrow(c.deployer, c.settlement, t.account!.address, token)
    expect(await outcome(claimWithdrawal(t, c.settlement, token))).toMatch(/WithdrawalNotClaimable/)
    // Settling every 300 blocks keeps the escape hatch shut; the request is never served.
    const p = priced(1n, 1n)
    for (let i = 0; i < 3; i++) {
      await c.mine(300)
      const prev = await c.lastHeight()
      await c.settle([result({ height: prev + 1n, prevHeight: prev, chainRef: stale, ...p, fills: [] })])
      expect(await outcome(claimWithdrawal(t, c.settlement, token))).toMatch(/WithdrawalNotClaimable/)
    }
    // escapeBlocks after the request it is paid anyway...
    const now = await c.deployer.publicClient.getBlockNumber({ cacheTime: 0 })
    await c.mine(Number(requestBlock + BigInt(ESCAPE_BLOCKS) - now))
    const before = await c.escrow(c.traderAddrs[0], token)
    expect(await outcome(claimWithdrawal(t, c.settlement, token))).toBe('ok')
    expect(await c.escrow(c.traderAddrs[0], token)).toBe(before - 1234n)
    // ...and a batch certified before the payout is voided (it may have spent that money), not settled.
    const prev = await c.lastHeight()
    const receipt = await c.settle([
      result({ height: prev + 1n, prevHeight: prev, chainRef: stale, ...p, fills: [] }),
    ])
    const abi = settlementAbi()
    expect(parseEventLogs({ abi, logs: receipt.logs as never, eventName: 'BatchVoided' })).toHaveLength(1)
  })
})

describe('point 11: a griefer cannot keep the escape hatch open to void every batch', () => {
  it('a void restarts the settle clock, so the next batch settles', async () => {
    const p = priced(1n, 1n)
    // Nothing settles for escapeBlocks: the hatch opens.
    await c.mine(ESCAPE_BLOCKS + 1)
    const griefer = c.traders[2]
    const certified = await c.chainRefNow()
    expect(await outcome(escapeWithdraw(griefer, c.settlement, c.tokenA, 1n))).toBe('ok')
    // The batch certified before the 1-wei escape is voided...
    let prev = await c.lastHeight()
    const r = await c.settle([
      result({ height: prev + 1n, prevHeight: prev, chainRef: certified, ...p, fills: [] }),
    ])
    const abi = settlementAbi()
    expect(parseEventLogs({ abi, logs: r.logs as never, eventName: 'BatchVoided' })).toHaveLength(1)
    // ...but the void closed the hatch: the griefer cannot escape again to void the next one, which settles.
    expect(await outcome(escapeWithdraw(griefer, c.settlement, c.tokenA, 1n))).toMatch(/EscapeNotActive/)
    prev = await c.lastHeight()
    const next = await c.settle([
      result({ height: prev + 1n, prevHeight: prev, chainRef: await c.chainRefNow(), ...p, fills: [] }),
    ])
    expect(parseEventLogs({ abi, logs: next.logs as never, eventName: 'BatchSettled' })).toHaveLength(1)
  })
})

export type { Address }
