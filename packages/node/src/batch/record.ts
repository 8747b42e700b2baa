import {
  address,
  bookOrderCodec,
  bool,
  bytes32,
  type ClearingResult,
  type Codec,
  type Infer,
  LIMITS,
  list,
  orderStatusCodec,
  signatureCodec,
  signedOrderCodec,
  struct,
  u32,
  u64,
  u256,
} from '@allot/protocol'

/** A ClearingResult as stored (the settlement payload is its ABI form; this is the node's own). */
export const clearingResultCodec = struct('ClearingResult', {
  height: u64,
  prevHeight: u64,
  chainRef: u64,
  batchHash: bytes32,
  assets: list(bytes32, 4096),
  prices: list(u256, 4096),
  fills: list(
    struct('Fill', { order: signedOrderCodec, orderId: bytes32, sold: u256, bought: u256, fee: u256 }),
    LIMITS.maxOrdersPerBatch,
  ),
  leases: list(
    struct('Lease', {
      provider: address,
      consumer: address,
      resource: bytes32,
      quantity: u256,
      quoteAsset: bytes32,
      payment: u256,
    }),
    LIMITS.maxOrdersPerBatch,
  ),
  penalties: list(
    struct('Penalty', {
      trader: address,
      orderId: bytes32,
      evidence: struct('PenaltyEvidence', {
        batch: u64,
        payloadHash: bytes32,
        nonce: u256,
        signature: signatureCodec,
      }),
    }),
    LIMITS.maxOrdersPerBatch,
  ),
}) as unknown as Codec<ClearingResult>

/**
 * What processing a decided height produced (docs/batch.md "What a batch's result depends on"), written
 * in one atomic write with the resting remainders it changed: the next height reads only this and the
 * decided data, so a restart resumes exactly where the last write left off.
 */
export const processedBatchCodec = struct('ProcessedBatch', {
  result: clearingResultCodec,
  resultHash: bytes32,
  /** The batch's proposer: it submits first (settlement/submitter.ts). */
  proposer: address,
  /** Sent to the contract: it moves something, or it serves a pending withdrawal. */
  settle: bool,
  orderCount: u32,
  /** Every order that traded, with its fee: the batch view and the balance view of later heights. */
  fills: list(
    struct('ProcessedFill', {
      orderId: bytes32,
      trader: address,
      sellAsset: bytes32,
      buyAsset: bytes32,
      sold: u256,
      bought: u256,
      fee: u256,
    }),
    LIMITS.maxOrdersPerBatch,
  ),
  /** Statuses that become true once a quorum certifies this result (fills, drops, invalidations). */
  statuses: list(orderStatusCodec, 1 << 22),
})
export type ProcessedBatch = Infer<typeof processedBatchCodec>

/**
 * The book a height was cleared on: every order the solver saw (this batch's opened orders and the resting
 * remainders, each with the amounts it entered with) and the solver's objective. Written in the same write
 * as the height's record, for readers only (the gateway's explorer draws supply and demand from it): no
 * later result reads it. Sealed orders are readable here only because their batch was decided and unsealed.
 */
export const batchBookCodec = struct('BatchBook', {
  /** Trader surplus in numeraire units, as the solver scored it. */
  objective: u256,
  numeraire: bytes32,
  orders: list(bookOrderCodec, 1 << 20),
})
export type BatchBook = Infer<typeof batchBookCodec>

/**
 * The balances a height was cleared with (the balance view at its `chainRef`: each trader's available
 * amount of each escrowed asset it sells), written beside its book for readers only: a replay of an
 * export funds each order as the solver did.
 */
export const batchBalancesCodec = list(
  struct('BookBalance', { trader: address, asset: bytes32, amount: u256 }),
  1 << 20,
)
export type BatchBalances = Infer<typeof batchBalancesCodec>
