import type { Address } from '@allot/protocol'
import type { ClearBatchInput, SolverOrder } from '../../src/types.js'

/** Deterministic PRNG (mulberry32) so every instance is the same on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function traderOf(k: number): Address {
  return `0x${k.toString(16).padStart(40, '0')}` as Address
}

export function assetName(a: number): string {
  return `T${String(a).padStart(2, '0')}`
}

/**
 * Random multi-asset batch: hidden "true" prices in [0.5, 2], orders on random pairs (rings occur
 * naturally) with limits within ±spread of the true ratio, amounts ≤ 10⁶, one trader per order,
 * balances ample. T00 is the numeraire.
 */
export function randomMultiAsset(
  seed: number,
  assets: number,
  orders: number,
  spread = 0.1,
): ClearBatchInput {
  const r = rng(seed)
  const truth = Array.from({ length: assets }, (_, a) => (a === 0 ? 1 : 0.5 + 1.5 * r()))
  const list: SolverOrder[] = []
  const balances: Record<string, Record<string, bigint>> = {}
  for (let k = 0; k < orders; k++) {
    const x = Math.floor(r() * assets)
    let y = Math.floor(r() * (assets - 1))
    if (y >= x) y++
    const sell = 1 + Math.floor(r() * 1_000_000)
    const ratio = (truth[x] / truth[y]) * (1 + spread * (2 * r() - 1))
    const buy = Math.max(1, Math.round(sell * ratio))
    const trader = traderOf(k + 1)
    list.push({
      id: `o${String(k).padStart(6, '0')}`,
      trader,
      sellAsset: assetName(x),
      buyAsset: assetName(y),
      sellAmount: BigInt(sell),
      buyAmount: BigInt(buy),
      kind: 'sell',
      partiallyFillable: r() < 0.9,
    })
    balances[trader] = { [assetName(x)]: BigInt(sell) }
  }
  return { orders: list, balances, params: { numeraire: assetName(0) } }
}

/** The hidden prices `randomMultiAsset(seed, assets, …)` draws its limits around (T00 = 1). */
export function hiddenPrices(seed: number, assets: number): Record<string, number> {
  const r = rng(seed)
  const out: Record<string, number> = {}
  for (let a = 0; a < assets; a++) out[assetName(a)] = a === 0 ? 1 : 0.5 + 1.5 * r()
  return out
}

/** Random single-pair batch (base TKA, quote TKB) with small amounts, both kinds, some fill-or-kill. */
export function randomPair(
  seed: number,
  orders: number,
  opts: { buyKind?: boolean; fok?: boolean } = {},
): ClearBatchInput {
  const r = rng(seed)
  const list: SolverOrder[] = []
  const balances: Record<string, Record<string, bigint>> = {}
  for (let k = 0; k < orders; k++) {
    const sellsBase = r() < 0.5
    const sell = 1 + Math.floor(r() * 100)
    const limit = 0.5 + r() // quote per base
    const buy = Math.max(1, Math.round(sellsBase ? sell * limit : sell / limit))
    const trader = traderOf(k + 1)
    const sellAsset = sellsBase ? 'TKA' : 'TKB'
    list.push({
      id: `p${String(k).padStart(4, '0')}`,
      trader,
      sellAsset,
      buyAsset: sellsBase ? 'TKB' : 'TKA',
      sellAmount: BigInt(sell),
      buyAmount: BigInt(buy),
      kind: opts.buyKind && r() < 0.3 ? 'buy' : 'sell',
      partiallyFillable: !(opts.fok && r() < 0.3),
    })
    balances[trader] = { [sellAsset]: BigInt(sell) * 2n }
  }
  return { orders: list, balances, params: { numeraire: 'TKB' } }
}
