import { AllotError, assetIdOf, BPS, feeOf, isBytes32, keccak256Hex, resultHashOf } from '@allot/protocol'
import type { ClearBatchInput, ClearBatchOutput, OrderFill } from './types.js'

const UINT256 = 1n << 256n

/** `details.rule` names the contract's custom error where one rule maps to one (e.g. `RatioViolated`). */
function fail(what: string, details?: { rule: string; fill: string }): never {
  throw new AllotError('SOLVER_INVALID_RESULT', what, details)
}

/**
 * The signed ratio after rounding (the contract's `RatioViolated`): bought · sellAmount ≥ (sold + fee) ·
 * buyAmount, evaluated as the contract does, in uint256 with overflow checks.
 */
function checkSignedRatio(
  id: string,
  sellAmount: bigint,
  buyAmount: bigint,
  sold: bigint,
  bought: bigint,
  fee: bigint,
): void {
  const got = bought * sellAmount
  const gave = (sold + fee) * buyAmount
  if (got >= UINT256 || gave >= UINT256) fail(`fill ${id}: its signed-ratio products overflow uint256`)
  if (got < gave)
    fail(`fill ${id} is worse than its signed ratio: bought·sellAmount < (sold + fee)·buyAmount`, {
      rule: 'RatioViolated',
      fill: id,
    })
}

function isResourcePred(input: ClearBatchInput): (a: string) => boolean {
  const r = input.params.resourceAssets
  if (r === undefined) return () => false
  return typeof r === 'function' ? r : (a) => r.has(a)
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Independent check of a clearing (any node runs it on a result it did not compute). It re-derives
 * every rule from the input and the claimed prices and amounts only — nothing of the solver's
 * internals: ids and bookkeeping, limits at the uniform prices (fee included), the contract's
 * rounding rules and the signed ratio after rounding, fill-or-kill, balances, conservation and the reported dust and fees, the
 * fill count, balance changes, leases, the objective, and the settlement payload and its hash.
 * Throws `AllotError('SOLVER_INVALID_RESULT', what)` naming the first violation.
 */
export function verifyResult(input: ClearBatchInput, out: ClearBatchOutput): void {
  const feeBps = BigInt(input.params.feeBps ?? 0)
  const isResource = isResourcePred(input)
  const byId = new Map(input.orders.map((o) => [o.id, o]))
  if (byId.size !== input.orders.length) fail('duplicate order ids in the input')
  // Bookkeeping: fills ∪ dropped = every input order, once, ascending ids.
  const seen = new Set<string>()
  for (let k = 0; k < out.fills.length; k++) {
    const f = out.fills[k]
    if (!byId.has(f.id)) fail(`fill for an unknown order ${f.id}`)
    if (k > 0 && cmp(out.fills[k - 1].id, f.id) >= 0)
      fail(`fills not in strictly ascending id order at ${f.id}`)
    seen.add(f.id)
  }
  for (const d of out.dropped) {
    if (!byId.has(d.id)) fail(`dropped an unknown order ${d.id}`)
    if (seen.has(d.id)) fail(`order ${d.id} both filled and dropped`)
    seen.add(d.id)
  }
  if (seen.size !== input.orders.length) fail('some input orders are neither in fills nor dropped')
  // Prices: positive, exactly the traded assets.
  const traded = new Set<string>()
  for (const f of out.fills) {
    if (f.sold < 0n || f.bought < 0n || f.fee < 0n) fail(`negative amount in fill ${f.id}`)
    if ((f.sold === 0n) !== (f.bought === 0n)) fail(`fill ${f.id} sells without buying or the reverse`)
    if (f.sold > 0n) {
      traded.add(f.sellAsset)
      traded.add(f.buyAsset)
    }
  }
  for (const [a, p] of Object.entries(out.prices)) {
    if (typeof p !== 'bigint' || p <= 0n) fail(`price of ${a} is not a positive integer`)
    if (!traded.has(a)) fail(`price for untraded asset ${a}`)
  }
  for (const a of traded) if (out.prices[a] === undefined) fail(`traded asset ${a} has no price`)
  const max = input.params.maxFillsPerBatch
  const nonZero = out.fills.filter((f) => f.sold > 0n)
  if (max !== undefined && nonZero.length > max)
    fail(`${nonZero.length} fills exceed maxFillsPerBatch ${max}`)
  // Per fill: it is the order's, at or better than its limit, rounded as the contract rounds.
  const debit = new Map<string, bigint>()
  const sold = new Map<string, bigint>()
  const bought = new Map<string, bigint>()
  const fees = new Map<string, bigint>()
  const pNumRaw = out.prices[input.params.numeraire]
  let pNum = pNumRaw
  if (pNum === undefined) {
    pNum = 0n
    for (const k of Object.keys(out.prices).sort(cmp))
      if (pNum === 0n || out.prices[k] < pNum) pNum = out.prices[k]
    if (pNum === 0n) pNum = 1n
  }
  let objective = 0n
  for (const f of out.fills) {
    const o = byId.get(f.id)!
    if (f.trader !== o.trader || f.sellAsset !== o.sellAsset || f.buyAsset !== o.buyAsset) {
      fail(`fill ${f.id} does not match its order`)
    }
    if (f.sold === 0n) {
      if (f.fee !== 0n) fail(`fee on an empty fill ${f.id}`)
      continue
    }
    const pX = out.prices[o.sellAsset]
    const pY = out.prices[o.buyAsset]
    // The contract evaluates these products in uint256 with overflow checks (README "Price cap").
    if (o.sellAmount * pX * BPS >= UINT256 || o.buyAmount * pY * (BPS + feeBps) >= UINT256)
      fail(`fill ${f.id}: amount · price overflows the contract's uint256 limit check`)
    if (o.sellAmount * pX * BPS < o.buyAmount * pY * (BPS + feeBps))
      fail(`fill ${f.id} is beyond its limit price`)
    if (f.fee !== feeOf(f.sold, feeBps)) fail(`fill ${f.id} has the wrong fee`)
    checkSignedRatio(f.id, o.sellAmount, o.buyAmount, f.sold, f.bought, f.fee)
    if (o.kind === 'sell') {
      if (f.bought !== (f.sold * pX) / pY) fail(`fill ${f.id}: bought ≠ floor(sold·p[sell]/p[buy])`)
      if (f.sold + f.fee > o.sellAmount) fail(`fill ${f.id} sells more than its sellAmount`)
      if (!o.partiallyFillable) {
        // Entire: the largest sold whose debit fits the sellAmount.
        const next = f.sold + 1n
        if (next + feeOf(next, feeBps) <= o.sellAmount) fail(`fill-or-kill order ${f.id} only partly filled`)
      }
    } else {
      if (f.sold !== (f.bought * pY + pX - 1n) / pX) fail(`fill ${f.id}: sold ≠ ceil(bought·p[buy]/p[sell])`)
      if (f.bought > o.buyAmount) fail(`fill ${f.id} buys more than its buyAmount`)
      if (!o.partiallyFillable && f.bought !== o.buyAmount)
        fail(`fill-or-kill order ${f.id} only partly filled`)
    }
    const key = `${o.trader.toLowerCase()}\u0000${o.sellAsset}`
    debit.set(key, (debit.get(key) ?? 0n) + f.sold + f.fee)
    sold.set(o.sellAsset, (sold.get(o.sellAsset) ?? 0n) + f.sold)
    bought.set(o.buyAsset, (bought.get(o.buyAsset) ?? 0n) + f.bought)
    if (f.fee > 0n) fees.set(o.sellAsset, (fees.get(o.sellAsset) ?? 0n) + f.fee)
    const s = (f.bought * o.sellAmount - (f.sold + f.fee) * o.buyAmount) * pY
    const d = o.sellAmount * pNum
    const q = s / d
    objective += s < 0n && q * d !== s ? q - 1n : q
  }
  // Balances: a trader never spends more than it has (resource classes are not escrowed).
  const lowered = new Map<string, Readonly<Record<string, bigint>>>()
  for (const [k, v] of Object.entries(input.balances))
    if (!lowered.has(k.toLowerCase())) lowered.set(k.toLowerCase(), v)
  for (const [key, amount] of debit) {
    const [trader, asset] = key.split('\u0000')
    if (isResource(asset)) continue
    const b = input.balances[trader] ?? lowered.get(trader)
    const have = b?.[asset] ?? 0n
    if (amount > have) fail(`trader ${trader} spends ${amount} ${asset} but has ${have}`)
  }
  // Conservation: nothing bought that was not sold; dust and fees as reported.
  for (const a of traded) {
    const d = (sold.get(a) ?? 0n) - (bought.get(a) ?? 0n)
    if (d < 0n) fail(`asset ${a} created: bought exceeds sold by ${-d}`)
    if (out.dust[a] !== d) fail(`dust of ${a} misreported`)
  }
  for (const a of Object.keys(out.dust)) if (!traded.has(a)) fail(`dust reported for untraded asset ${a}`)
  for (const [a, v] of fees) if (out.fees[a] !== v) fail(`fees of ${a} misreported`)
  for (const [a, v] of Object.entries(out.fees)) if (fees.get(a) !== v) fail(`fees of ${a} misreported`)
  if (objective !== out.objective) fail(`objective misreported: ${out.objective}, recomputed ${objective}`)
  // Balance changes.
  const changes = new Map<string, bigint>()
  const add = (t: string, a: string, v: bigint) => {
    if (isResource(a) || v === 0n) return
    const k = `${t.toLowerCase()}\u0000${a}`
    changes.set(k, (changes.get(k) ?? 0n) + v)
  }
  for (const f of out.fills) {
    add(f.trader, f.sellAsset, -(f.sold + f.fee))
    add(f.trader, f.buyAsset, f.bought)
  }
  const reported = new Map<string, bigint>()
  for (const c of out.balanceChanges) reported.set(`${c.account.toLowerCase()}\u0000${c.asset}`, c.delta)
  for (const [k, v] of changes)
    if (v !== 0n && reported.get(k) !== v) fail(`balance change ${k.replace('\u0000', ' ')} misreported`)
  for (const [k, v] of reported)
    if ((changes.get(k) ?? 0n) !== v || v === 0n)
      fail(`balance change ${k.replace('\u0000', ' ')} misreported`)
  // Leases: per resource, quantities cover what consumers bought and never exceed what providers sold.
  const leased = new Map<string, bigint>()
  for (const l of out.leases) {
    if (l.quantity <= 0n) fail('lease of a non-positive quantity')
    leased.set(l.resource, (leased.get(l.resource) ?? 0n) + l.quantity)
  }
  // Settlement payload: the hash is that of the claimed result, and the result carries these prices and fills.
  const r = out.result
  if (resultHashOf(r) !== out.resultHash) fail('resultHash is not the hash of the settlement payload')
  if (r.assets.length !== traded.size || r.prices.length !== traded.size)
    fail('payload assets differ from the traded assets')
  for (let k = 1; k < r.assets.length; k++)
    if (cmp(r.assets[k - 1], r.assets[k]) >= 0) fail('payload assets not ascending')
  if (r.fills.length !== nonZero.length) fail('payload fills differ from the non-zero fills')
  const payloadPrice = new Map(r.assets.map((a, k) => [a, r.prices[k]]))
  for (let k = 0; k < r.fills.length; k++) {
    const pf = r.fills[k]
    if (k > 0 && cmp(r.fills[k - 1].orderId, pf.orderId) >= 0) fail('payload fills not ascending by order id')
    if (pf.fee !== feeOf(pf.sold, feeBps)) fail(`payload fill ${pf.orderId} has the wrong fee`)
    const o = pf.order.order
    const pX = payloadPrice.get(o.sellAsset)
    const pY = payloadPrice.get(o.buyAsset)
    if (pX === undefined || pY === undefined)
      fail(`payload fill ${pf.orderId} names an asset without a price`)
    if (o.sellAmount * pX * BPS < o.buyAmount * pY * (BPS + feeBps))
      fail(`payload fill ${pf.orderId} is beyond its limit`)
    checkSignedRatio(pf.orderId, o.sellAmount, o.buyAmount, pf.sold, pf.bought, pf.fee)
    if (o.kind === 'sell' && pf.bought !== (pf.sold * pX) / pY)
      fail(`payload fill ${pf.orderId} rounds wrongly`)
    if (o.kind === 'buy' && pf.sold !== (pf.bought * pY + pX - 1n) / pX)
      fail(`payload fill ${pf.orderId} rounds wrongly`)
  }
  // The payload carries exactly the reported prices and fills (ids mapped as README "Payload" says).
  const idOfAsset = (k: string) => (isBytes32(k) ? k.toLowerCase() : assetIdOf(k))
  for (const [a, p] of Object.entries(out.prices)) {
    if (payloadPrice.get(idOfAsset(a) as `0x${string}`) !== p)
      fail(`payload price of ${a} differs from the reported one`)
  }
  const enc = new TextEncoder()
  const payloadFill = new Map(r.fills.map((f) => [f.orderId, f]))
  for (const f of nonZero) {
    const oid = isBytes32(f.id) ? f.id.toLowerCase() : keccak256Hex(enc.encode(f.id))
    const pf = payloadFill.get(oid as `0x${string}`)
    if (pf === undefined) fail(`fill ${f.id} missing from the payload`)
    if (pf.sold !== f.sold || pf.bought !== f.bought || pf.fee !== f.fee)
      fail(`payload fill ${f.id} differs from the reported fill`)
    const o = byId.get(f.id)!
    const po = pf.order.order
    if (
      po.sellAmount !== o.sellAmount ||
      po.buyAmount !== o.buyAmount ||
      po.kind !== o.kind ||
      po.partiallyFillable !== o.partiallyFillable ||
      po.trader.toLowerCase() !== o.trader.toLowerCase() ||
      po.sellAsset !== idOfAsset(o.sellAsset) ||
      po.buyAsset !== idOfAsset(o.buyAsset)
    ) {
      fail(`payload order of fill ${f.id} differs from the input order`)
    }
  }
}

export type { OrderFill }
