import type { Address, Height, Hex } from '@allot/protocol'

/**
 * A nonce or height as a Map key: a number while it is exact (the usual case), else the bigint. V8
 * hashes a bigint key in a runtime call, several times slower than a number (cpu profile: these
 * lookups were 5% of intake's main thread with bigint keys); distinct values still get distinct keys.
 */
type Key = number | bigint
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER)
const key = (v: bigint): Key => (v <= MAX_EXACT ? Number(v) : v)

interface TraderOrders {
  /** nonce → the order holding it */
  nonces: Map<Key, Hex>
  /** batch → how many of the trader's orders target it */
  batches: Map<Key, number>
}

/**
 * Orders by trader: who holds each nonce, and how many orders target each batch (the rate limit).
 * Keyed by trader, then by the bigint itself: intake asks these for every order, and a
 * `${trader}:${nonce}` key cost a string build, flatten and hash each time (cpu profile, 32k orders).
 */
export class TraderIndex {
  private readonly traders = new Map<Address, TraderOrders>()

  nonceOwner(trader: Address, nonce: bigint): Hex | undefined {
    return this.traders.get(trader)?.nonces.get(key(nonce))
  }

  count(trader: Address, batch: Height): number {
    return this.traders.get(trader)?.batches.get(key(batch)) ?? 0
  }

  add(trader: Address, nonce: bigint, batch: Height, id: Hex): void {
    let t = this.traders.get(trader)
    if (!t) this.traders.set(trader, (t = { nonces: new Map(), batches: new Map() }))
    const n = key(nonce)
    const b = key(batch)
    t.nonces.set(n, id)
    t.batches.set(b, (t.batches.get(b) ?? 0) + 1)
  }

  /** Undoes `add`: the nonce is freed only if `id` still holds it. */
  remove(trader: Address, nonce: bigint, batch: Height, id: Hex): void {
    const t = this.traders.get(trader)
    if (!t) return
    const k = key(nonce)
    if (t.nonces.get(k) === id) t.nonces.delete(k)
    const b = key(batch)
    const n = (t.batches.get(b) ?? 1) - 1
    if (n <= 0) t.batches.delete(b)
    else t.batches.set(b, n)
    if (t.nonces.size === 0 && t.batches.size === 0) this.traders.delete(trader)
  }
}
