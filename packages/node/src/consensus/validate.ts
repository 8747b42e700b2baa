import { type BatchContent, type Hex, MAX_DKG_REFS_PER_BATCH } from '@allot/protocol'
import type { ParentRef } from './tendermint.js'

/** Genesis parameters a proposal is judged by. */
export interface ValidationParams {
  batchIntervalMs: number
  maxOrdersPerBatch: number
  /** Inclusion rule: orders held since before `min(timestamp, parent + interval) − inclusionGraceMs` must be in it. */
  inclusionGraceMs: number
  /** How far a proposal's timestamp may run ahead of our clock. Must be < inclusionGraceMs. */
  maxClockSkewMs: number
  /**
   * The per-trader cap of intake (genesis `perTraderMaxOrdersPerBatch`): a proposal holding this many
   * orders of a trader satisfies the inclusion rule for every other order of that trader. Absent: no cap.
   */
  perTraderMaxOrdersPerBatch?: number
}

export type OrderStatus = 'valid' | 'invalid' | 'unknown'

export interface HeldOrder {
  id: Hex
  /** When this validator first held the order (ms). */
  since: number
  /** Its trader and envelope nonce (lowercase address); absent: the order is demanded on its own. */
  trader?: string
  nonce?: bigint
}

/** Who signed an order and with which nonce: what its envelope shows without unsealing. */
export interface OrderKey {
  trader: string
  nonce: bigint
}

export interface ProposalContext {
  height: bigint
  parent: ParentRef
  /** This validator's clock (ms). */
  now: number
  params: ValidationParams
  /** Whether a sealed order id is a valid order for this height, as far as this validator knows. */
  orderStatus(id: Hex): OrderStatus
  /** The valid orders for this height this validator holds. */
  heldOrders(): Iterable<HeldOrder>
  /**
   * The trader and nonce of an order this validator holds (every id of a proposal that got past
   * `orderStatus`): what lets a proposal satisfy the inclusion rule for a trader's conflicting envelopes.
   */
  orderKey?(id: Hex): OrderKey | undefined
  /** The newest chain block this validator considers confirmed (undefined: not checked). */
  maxChainRef?: bigint
  /**
   * Whether this validator holds the signed DKG broadcast a ref names (sealing/dkg.ts, checked on
   * arrival); undefined on a network without a DKG, where a batch carries no refs.
   */
  dkgRefStatus?(ref: Hex): 'valid' | 'unknown'
}

export type ConsensusRejectCode =
  | 'CONSENSUS_BAD_HEIGHT'
  | 'CONSENSUS_BAD_PARENT'
  | 'CONSENSUS_BAD_TIMESTAMP'
  | 'CONSENSUS_FUTURE_TIMESTAMP'
  | 'CONSENSUS_BAD_CHAIN_REF'
  | 'CONSENSUS_CHAIN_REF_AHEAD'
  | 'CONSENSUS_BAD_ORDER_IDS'
  | 'CONSENSUS_TOO_MANY_ORDERS'
  | 'CONSENSUS_INVALID_ORDER'
  | 'CONSENSUS_UNKNOWN_ORDER'
  | 'CONSENSUS_CENSORS_ORDER'
  | 'CONSENSUS_BAD_DKG_REFS'
  | 'CONSENSUS_UNKNOWN_DKG_REF'

/**
 * `valid` is the objective verdict (Tendermint's valid(v): every honest validator holding the same orders
 * agrees); `acceptable` adds this validator's local policy — clock skew, chain view and the inclusion rule —
 * and decides its prevote on a fresh proposal. `missing` lists ids to fetch over sync before judging again.
 */
export interface ProposalVerdict {
  valid: boolean
  acceptable: boolean
  code?: ConsensusRejectCode
  message?: string
  missing?: Hex[]
}

const HEX32 = /^0x[0-9a-f]{64}$/

function reject(code: ConsensusRejectCode, message: string, objective: boolean): ProposalVerdict {
  return { valid: !objective, acceptable: false, code, message }
}

/** DESIGN.md step 2: every field of a proposed batch, then the inclusion rule. */
export function validateProposal(c: BatchContent, ctx: ProposalContext): ProposalVerdict {
  const p = ctx.params
  if (c.height !== ctx.height)
    return reject('CONSENSUS_BAD_HEIGHT', `height ${c.height} ≠ ${ctx.height}`, true)
  if (c.parentHash !== ctx.parent.hash) return reject('CONSENSUS_BAD_PARENT', 'parent hash differs', true)
  // The cadence: a batch is at least batchIntervalMs after its parent (so the timestamp is monotone).
  if (c.timestamp < ctx.parent.timestamp + BigInt(p.batchIntervalMs)) {
    return reject('CONSENSUS_BAD_TIMESTAMP', `timestamp ${c.timestamp} before parent + interval`, true)
  }
  if (c.chainRef < ctx.parent.chainRef) return reject('CONSENSUS_BAD_CHAIN_REF', 'chainRef decreases', true)
  if (c.orderIds.length > p.maxOrdersPerBatch) {
    return reject('CONSENSUS_TOO_MANY_ORDERS', `${c.orderIds.length} > ${p.maxOrdersPerBatch}`, true)
  }
  for (let i = 0; i < c.orderIds.length; i++) {
    const id = c.orderIds[i]
    if (!HEX32.test(id) || (i > 0 && !(c.orderIds[i - 1] < id))) {
      return reject('CONSENSUS_BAD_ORDER_IDS', 'order ids not strictly ascending lowercase bytes32', true)
    }
  }
  const refs = c.dkgRefs ?? []
  if (refs.length > 0 && !ctx.dkgRefStatus)
    return reject('CONSENSUS_BAD_DKG_REFS', 'DKG refs on a network without a DKG', true)
  if (refs.length > MAX_DKG_REFS_PER_BATCH)
    return reject('CONSENSUS_BAD_DKG_REFS', `${refs.length} DKG refs > ${MAX_DKG_REFS_PER_BATCH}`, true)
  for (let i = 0; i < refs.length; i++) {
    if (!HEX32.test(refs[i]) || (i > 0 && !(refs[i - 1] < refs[i])))
      return reject('CONSENSUS_BAD_DKG_REFS', 'DKG refs not strictly ascending lowercase bytes32', true)
  }
  // A DKG ref counts only if its broadcast is available: we vote for it once we hold it (fetched like orders).
  const missingRefs = refs.filter((r) => ctx.dkgRefStatus?.(r) !== 'valid')
  const missing: Hex[] = []
  for (const id of c.orderIds) {
    const st = ctx.orderStatus(id)
    if (st === 'invalid')
      return reject('CONSENSUS_INVALID_ORDER', `order ${id} is not valid for this batch`, true)
    if (st === 'unknown') missing.push(id)
  }
  if (missing.length > 0) {
    return {
      valid: false,
      acceptable: false,
      code: 'CONSENSUS_UNKNOWN_ORDER',
      message: `${missing.length} unknown orders`,
      missing,
    }
  }
  if (missingRefs.length > 0) {
    return {
      valid: false,
      acceptable: false,
      code: 'CONSENSUS_UNKNOWN_DKG_REF',
      message: `${missingRefs.length} unknown DKG refs`,
      missing: missingRefs,
    }
  }
  // Local policy from here on: the verdict stays valid, only our prevote changes.
  if (c.timestamp > BigInt(Math.floor(ctx.now + p.maxClockSkewMs))) {
    return reject(
      'CONSENSUS_FUTURE_TIMESTAMP',
      `timestamp ${c.timestamp} ahead of our clock ${ctx.now}`,
      false,
    )
  }
  if (ctx.maxChainRef !== undefined && c.chainRef > ctx.maxChainRef) {
    return reject(
      'CONSENSUS_CHAIN_REF_AHEAD',
      `chainRef ${c.chainRef} beyond confirmed ${ctx.maxChainRef}`,
      false,
    )
  }
  // Inclusion rule: a batch with room must hold every valid order we have held since before
  // min(timestamp, parent.timestamp + interval) − grace: measured from the earliest moment the height could be
  // proposed, not from this round's timestamp, so that a later round asks for no more than round 0 did (an
  // order that reached us in time but an honest proposer too late would otherwise block every later round).
  if (c.orderIds.length < p.maxOrdersPerBatch) {
    const cutoff = inclusionCutoff(c.timestamp, ctx.parent.timestamp, p)
    let cover: Cover | null = null
    for (const o of ctx.heldOrders()) {
      if (o.since >= cutoff) continue
      cover ??= coverOf(c.orderIds, ctx, p)
      if (!cover.ids.has(o.id) && !cover.covers(o))
        return reject('CONSENSUS_CENSORS_ORDER', `omits order ${o.id} held since ${o.since}`, false)
    }
  }
  return { valid: true, acceptable: true }
}

interface Cover {
  ids: Set<Hex>
  /** Whether the proposal stands in for a held order it omits (see `coverOf`). */
  covers(o: HeldOrder): boolean
}

/**
 * What a proposal may hold instead of an order we demand, when its trader misbehaved: an honest proposer's
 * intake refuses, for good, a second envelope of a (trader, nonce) it holds and a trader's orders past the
 * cap, so whichever of them reached it first is all it can propose. The rule asks no more of it than that:
 * a held order is covered by another envelope of its (trader, nonce) in the proposal, or by `cap` orders of
 * its trader. Without this, a trader who sends two envelopes of one nonce (or two caps' worth of orders) to
 * two halves of the validators had each half refuse the other's proposals, and no height was decided
 * (issue 24). An honest trader never sends either, so for it the rule is unchanged.
 */
function coverOf(orderIds: readonly Hex[], ctx: ProposalContext, p: ValidationParams): Cover {
  const ids = new Set(orderIds)
  if (!ctx.orderKey) return { ids, covers: () => false }
  const nonces = new Set<string>()
  const perTrader = new Map<string, number>()
  for (const id of orderIds) {
    const k = ctx.orderKey(id)
    if (!k) continue
    nonces.add(`${k.trader}:${k.nonce}`)
    perTrader.set(k.trader, (perTrader.get(k.trader) ?? 0) + 1)
  }
  const cap = p.perTraderMaxOrdersPerBatch
  return {
    ids,
    covers: (o) =>
      o.trader !== undefined &&
      ((o.nonce !== undefined && nonces.has(`${o.trader}:${o.nonce}`)) ||
        (cap !== undefined && (perTrader.get(o.trader) ?? 0) >= cap)),
  }
}

/** Orders held since before this (ms) must be in a batch with room (the inclusion rule). */
export function inclusionCutoff(timestamp: bigint, parentTimestamp: bigint, p: ValidationParams): number {
  const earliest = parentTimestamp + BigInt(p.batchIntervalMs)
  return Number(timestamp < earliest ? timestamp : earliest) - p.inclusionGraceMs
}

/**
 * getValue() for an honest proposer: every valid order it holds for the height (the longest-held first when
 * over the cap), ids ascending; the timestamp is its clock but never before the cadence allows; chainRef never
 * decreases.
 */
export function buildBatchContent(a: {
  height: bigint
  parent: ParentRef
  now: number
  batchIntervalMs: number
  maxOrdersPerBatch: number
  chainRef: bigint
  orders: Iterable<HeldOrder>
  /** The DKG broadcasts to reference (sealing/dkg.ts `proposalRefs`), ascending. */
  dkgRefs?: Hex[]
}): BatchContent {
  let held = [...a.orders]
  if (held.length > a.maxOrdersPerBatch) {
    held.sort((x, y) => x.since - y.since || (x.id < y.id ? -1 : 1))
    held = held.slice(0, a.maxOrdersPerBatch)
  }
  const ids = [...new Set(held.map((o) => o.id.toLowerCase() as Hex))].sort()
  const earliest = a.parent.timestamp + BigInt(a.batchIntervalMs)
  const now = BigInt(Math.floor(a.now))
  return {
    height: a.height,
    parentHash: a.parent.hash,
    timestamp: now > earliest ? now : earliest,
    // biome-ignore lint/complexity/useMathMinMax: bigints (Math.max takes numbers)
    chainRef: a.chainRef > a.parent.chainRef ? a.chainRef : a.parent.chainRef,
    orderIds: ids,
    ...(a.dkgRefs && a.dkgRefs.length > 0 ? { dkgRefs: a.dkgRefs } : {}),
  }
}
