import type { AssetId } from './assets.js'
import type { Address, Hex } from './bytes.js'

/** Batch height (a uint64 on chain). */
export type Height = bigint

export type OrderKind = 'sell' | 'buy'

/**
 * A limit order, signed by its trader with EIP-712 (`ORDER_TYPES`). Price limit: the trader
 * accepts any uniform prices p with `sellAmount * p[sellAsset] >= buyAmount * p[buyAsset]`.
 * - sell kind: sells at most `sellAmount` (with the protocol fee on top, see `fees.ts`);
 * - buy kind: buys at most `buyAmount`.
 * `firstBatch` is the batch it is sealed for; the unfilled remainder may fill until `lastBatch`.
 */
export interface Order {
  trader: Address
  sellAsset: AssetId
  buyAsset: AssetId
  sellAmount: bigint
  buyAmount: bigint
  kind: OrderKind
  partiallyFillable: boolean
  firstBatch: Height
  lastBatch: Height
  nonce: bigint
  /** Free application tag (bytes32, zero when unused). */
  app: Hex
}

/** A 65-byte secp256k1 signature split as Ethereum does (v is 27 or 28). s is always low. */
export interface Signature {
  r: Hex
  s: Hex
  v: number
}

export interface SignedOrder {
  order: Order
  signature: Signature
}

/** What a sealed envelope carries: an ECIES ciphertext for the batch key, or (tests only) a plain signed order. */
export type OrderPayload =
  | { kind: 'sealed'; ephemeralKey: Hex /* R, 33-byte compressed point */; ciphertext: Hex }
  | { kind: 'plain'; order: SignedOrder }

/**
 * The envelope nodes gossip. The trader signs (EIP-712 `SealedOrder`) the target batch, the
 * hash of the payload and a nonce. The order id is the hash of the whole signed envelope
 * (`orderIdOf`), never of the inner order.
 */
export interface SealedOrder {
  trader: Address
  batch: Height
  nonce: bigint
  payload: OrderPayload
  signature: Signature
}

/** A signed cancellation of one of the trader's orders (by order id). */
export interface OrderCancel {
  trader: Address
  orderId: Hex
  signature: Signature
}

/** The value validators agree on at a height: which sealed orders form the batch. */
export interface BatchContent {
  height: Height
  parentHash: Hex
  /** ms since the epoch, the proposer's clock. */
  timestamp: bigint
  /** Chain block whose state the batch's balances are read at; never decreases. */
  chainRef: bigint
  /** Strictly ascending sealed order ids. */
  orderIds: Hex[]
  /**
   * Strictly ascending hashes of signed DKG broadcasts this height decides (docs/sealing.md "The exact
   * rule"): the validators' DKG counts a broadcast only once a decided height references it. Absent
   * when none (encoded as an empty list).
   */
  dkgRefs?: Hex[]
}

export interface BatchProposal {
  height: Height
  round: number
  content: BatchContent
  /** -1 when none (Tendermint's validRound). */
  validRound: number
  proposer: Address
  signature: Signature
}

export type VoteType = 'prevote' | 'precommit'

export interface Vote {
  type: VoteType
  height: Height
  round: number
  /** Hash of the BatchContent voted for; null is a nil vote. */
  valueHash: Hex | null
  validator: Address
  signature: Signature
}

/** What validators attest after solving a decided batch. */
export interface BatchResult {
  height: Height
  resultHash: Hex
}

export interface BatchCertificate {
  height: Height
  resultHash: Hex
  /** Sorted by signer address, distinct, at least the quorum. */
  signatures: { validator: Address; signature: Signature }[]
}

/** A validator's share of a batch secret key, released once the batch is decided. */
export interface KeyShare {
  height: Height
  /** 1-based Shamir index of the validator. */
  index: number
  share: Hex
  validator: Address
  signature: Signature
}

/** One executed order in a clearing result. Amounts include nothing hidden: `fee` is charged on top of `sold`. */
export interface Fill {
  order: SignedOrder
  /** Sealed order id the order came from (or its id in offline solving). */
  orderId: Hex
  sold: bigint
  bought: bigint
  fee: bigint
}

/** A lease of resource units from a provider to a consumer, made by a batch. */
export interface Lease {
  provider: Address
  consumer: Address
  resource: AssetId
  quantity: bigint
  /** The token the consumer paid in, and how much of it went to this provider for `quantity` units. */
  quoteAsset: AssetId
  payment: bigint
}

/**
 * The evidence a penalty carries to the contract: the fields of the trader's own signed envelope
 * (EIP-712 `SealedOrder { trader, batch, payloadHash, nonce }`) and its signature. The contract charges
 * only when the signature recovers to the trader and `batch` is the height being settled.
 */
export interface PenaltyEvidence {
  batch: Height
  payloadHash: Hex
  nonce: bigint
  signature: Signature
}

/**
 * An envelope of the batch that unsealed to garbage or that its trader could not fund: its trader pays
 * `invalidOrderFee`, once per envelope, ever. `orderId` is the envelope's id (reported, not checked on chain).
 */
export interface Penalty {
  trader: Address
  orderId: Hex
  evidence: PenaltyEvidence
}

/** The solver's output, and (with the batch fields) exactly what the settlement contract receives. */
export interface ClearingResult {
  height: Height
  /** The last height settled on chain before this one (0 when none). */
  prevHeight: Height
  chainRef: bigint
  /** Hash of the decided BatchContent. */
  batchHash: Hex
  /** Traded assets, strictly ascending by id, with their prices on a common scale. */
  assets: AssetId[]
  prices: bigint[]
  fills: Fill[]
  leases: Lease[]
  penalties: Penalty[]
}
