/**
 * Gas figures of `settle`, measured by packages/node/bench/gas.bench.ts (BENCHMARKS.md, "Settlement gas"),
 * and the batch size they allow.
 */
export const SETTLEMENT_GAS = {
  /** Per batch (transaction, certificate of 3 signatures, sums), measured with 4 validators. */
  fixedPerBatch: 72_000n,
  /** A fill whose trader already holds both tokens in escrow, one-shot order. */
  perFillTypical: 25_900n,
  /**
   * A fill whose buy-token escrow slot is fresh and whose order is a multi-batch buy-kind one (fresh
   * cumulative bought and spent slots, and its on-chain invalidation read). 79.0k measured with the
   * signed-ratio check (RatioViolated, ~200 gas a fill).
   */
  perFillWorst: 79_000n,
  /** A penalty: the SealedOrder signature, its once-ever slot, the bond debit and the event (32.0k measured). */
  perPenalty: 32_100n,
} as const

/**
 * `maxFillsPerBatch` default for genesis: the worst-case fills that fit in half a 30M-gas block
 * ((15M − fixed) / worst per-fill), so a settlement always fits in a block, even with two batches in one.
 */
export const DEFAULT_MAX_FILLS_PER_BATCH = 188

/**
 * How many penalties a batch with `fills` fills may carry: what the transaction would spend on them fits
 * in the gas of the fills it does not use (`maxFills` worst-case fills is the batch's whole budget), so a
 * certified batch always fits in a block however many bad envelopes a batch holds.
 */
export function maxPenaltiesFor(fills: number, maxFills: number): number {
  const room = BigInt(Math.max(0, maxFills - fills)) * SETTLEMENT_GAS.perFillWorst
  return Number(room / SETTLEMENT_GAS.perPenalty)
}
