import type { Hex } from '@allot/protocol'

/**
 * The intake rules of a node (mempool/intake.ts), modelled for the simulation: what decides which orders
 * each validator holds, and so what the inclusion rule demands of a proposal. A new order (from its trader,
 * gossip or anti-entropy) is refused when its batch is closed (the cut-off), when the trader's nonce is
 * held by another envelope, when the trader has the per-trader cap of orders for the batch, or when this
 * validator's view of the chain says the trader has no bond. An order a proposal names (`referenced`) is
 * taken past all of these (issue 24); `legacy` keeps the rules of before, which let one trader stop
 * consensus (a proposal naming a refused order waited for it for good).
 */
export interface SimOrder {
  id: Hex
  batch: bigint
  /** Honest traders count from 0; hostile ones from HOSTILE_TRADER_BASE. */
  trader: number
  nonce: bigint
}

export const SIM_INTAKE = {
  /** A batch closes for new orders this long before its earliest proposal time (genesis intakeCutoffMs). */
  cutoffMs: 500,
  /** Genesis perTraderMaxOrdersPerBatch. */
  perTraderCap: 4,
} as const

/** What intake reads of its node: where consensus stands, the clock, the chain's view of bonds. */
export interface IntakeView {
  height: bigint
  parentTimestamp: bigint
  batchIntervalMs: number
  now: number
  bonded(trader: number): boolean
}

export type IntakeRefusal =
  | 'ORDER_DUPLICATE'
  | 'ORDER_TARGET_CLOSED'
  | 'ORDER_RATE_LIMITED'
  | 'ORDER_INSUFFICIENT_BOND'

/** A validator's mempool: batch → order id → since (ms), with the nonce and count indexes of intake. */
export class SimMempool {
  readonly byBatch = new Map<bigint, Map<Hex, number>>()
  private readonly nonces = new Map<string, Hex>()
  private readonly counts = new Map<string, number>()
  /** Batches up to this one have left the nonce index (`decided`). */
  private pruned = 0n

  held(batch: bigint): Map<Hex, number> {
    let m = this.byBatch.get(batch)
    if (!m) this.byBatch.set(batch, (m = new Map()))
    return m
  }

  has(o: SimOrder): boolean {
    return this.byBatch.get(o.batch)?.has(o.id) ?? false
  }

  /** A new order: every rule (the API's and gossip's path). Null when taken. */
  takeNew(o: SimOrder, v: IntakeView): IntakeRefusal | null {
    if (this.has(o) || this.nonces.has(nonceKey(o))) return 'ORDER_DUPLICATE'
    // ConsensusSchedule: batches below the height are decided; the height itself closes cutoffMs
    // before its earliest proposal time.
    if (o.batch < v.height) return 'ORDER_TARGET_CLOSED'
    if (o.batch === v.height && v.now >= Number(v.parentTimestamp) + v.batchIntervalMs - SIM_INTAKE.cutoffMs)
      return 'ORDER_TARGET_CLOSED'
    if ((this.counts.get(countKey(o)) ?? 0) >= SIM_INTAKE.perTraderCap) return 'ORDER_RATE_LIMITED'
    if (!v.bonded(o.trader)) return 'ORDER_INSUFFICIENT_BOND'
    this.add(o, v.now)
    return null
  }

  /** An order a proposal names, fetched: past the nonce, cap, bond and cut-off rules unless `legacy`. */
  takeReferenced(o: SimOrder, v: IntakeView, legacy: boolean): IntakeRefusal | null {
    if (this.has(o)) return null
    if (legacy) {
      if (this.nonces.has(nonceKey(o))) return 'ORDER_DUPLICATE'
      if ((this.counts.get(countKey(o)) ?? 0) >= SIM_INTAKE.perTraderCap) return 'ORDER_RATE_LIMITED'
      if (!v.bonded(o.trader)) return 'ORDER_INSUFFICIENT_BOND'
    }
    this.add(o, v.now)
    return null
  }

  /**
   * Height h is decided: its orders and those of earlier batches leave the nonce index (the node removes
   * them as included or expired), so their nonces are free again. The held maps stay for the invariants.
   */
  decided(h: bigint, orderOf: (id: Hex) => SimOrder | undefined): void {
    for (const [b, m] of this.byBatch) {
      if (b > h || b <= this.pruned) continue
      for (const id of m.keys()) {
        const o = orderOf(id)
        if (o && this.nonces.get(nonceKey(o)) === id) this.nonces.delete(nonceKey(o))
      }
    }
    if (h > this.pruned) this.pruned = h
  }

  private add(o: SimOrder, now: number): void {
    this.held(o.batch).set(o.id, now)
    if (!this.nonces.has(nonceKey(o))) this.nonces.set(nonceKey(o), o.id)
    this.counts.set(countKey(o), (this.counts.get(countKey(o)) ?? 0) + 1)
  }
}

const nonceKey = (o: SimOrder) => `${o.trader}:${o.nonce}`
const countKey = (o: SimOrder) => `${o.trader}:${o.batch}`
