/**
 * Gas figures of `settle`, measured by packages/node/bench/gas.bench.ts (BENCHMARKS.md, "Settlement gas"),
 * and the batch size they allow.
 */
export const SETTLEMENT_GAS = {
  /** Per batch (transaction, certificate of 3 signatures, sums), measured with 4 validators. */
  fixedPerBatch: 72_000n,
  /** A fill whose trader already holds both tokens in escrow, one-shot order. */
  perFillTypical: 25_200n,
  /** A fill whose buy-token escrow slot is fresh and whose order is multi-batch (a fresh cumulative slot). */
  perFillWorst: 64_300n,
} as const

/**
 * `maxFillsPerBatch` default for genesis: the worst-case fills that fit in half a 30M-gas block
 * ((15M − fixed) / worst per-fill), so a settlement always fits in a block, even with two batches in one.
 */
export const DEFAULT_MAX_FILLS_PER_BATCH = 232
