import type { Address, Height, Hex } from '@allot/protocol'

interface TraderOrders {
  /** nonce → the order holding it */
  nonces: Map<bigint, Hex>
  /** batch → how many of the trader's orders target it */
  batches: Map<Height, number>
}

/**
 * Orders by trader: who holds each nonce, and how many orders target each batch (the rate limit).
 * Keyed by trader, then by the bigint itself: intake asks these for every order, and a
 * `${trader}:${nonce}` key cost a string build, flatten and hash each time (cpu profile, 32k orders).
 */
export class TraderIndex {
  private readonly traders = new Map<Address, TraderOrders>()

  nonceOwner(trader: Address, nonce: bigint): Hex | undefined {
    return this.traders.get(trader)?.nonces.get(nonce)
  }

  count(trader: Address, batch: Height): number {
    return this.traders.get(trader)?.batches.get(batch) ?? 0
  }

  add(trader: Address, nonce: bigint, batch: Height, id: Hex): void {
    let t = this.traders.get(trader)
    if (!t) this.traders.set(trader, (t = { nonces: new Map(), batches: new Map() }))
    t.nonces.set(nonce, id)
    t.batches.set(batch, (t.batches.get(batch) ?? 0) + 1)
  }

  /** Undoes `add`: the nonce is freed only if `id` still holds it. */
  remove(trader: Address, nonce: bigint, batch: Height, id: Hex): void {
    const t = this.traders.get(trader)
    if (!t) return
    if (t.nonces.get(nonce) === id) t.nonces.delete(nonce)
    const n = (t.batches.get(batch) ?? 1) - 1
    if (n <= 0) t.batches.delete(batch)
    else t.batches.set(batch, n)
    if (t.nonces.size === 0 && t.batches.size === 0) this.traders.delete(trader)
  }
}
