import type {
  Address,
  ClearingResult,
  Hex,
  Lease,
  OrderKind,
  PenaltyEvidence,
  SignedOrder,
} from '@allot/protocol'

/**
 * One order as the solver sees it. Assets are opaque strings: bytes32 asset ids in the node, free
 * symbols (`TKA`) offline. `id` is the sealed order id in the node (0x bytes32), any string offline.
 */
export interface SolverOrder {
  id: string
  trader: Address
  sellAsset: string
  buyAsset: string
  sellAmount: bigint
  buyAmount: bigint
  kind: OrderKind
  partiallyFillable: boolean
  /** The trader-signed order, carried into the settlement payload (the node passes it). */
  signed?: SignedOrder
  /**
   * The trader's signed envelope of this batch, the evidence a penalty needs on chain. Only an order
   * that has it (its envelope's batch is the batch being cleared) is penalised when it cannot be funded
   * or is garbage: the node passes it for the orders decided into this batch, not for resting ones.
   */
  evidence?: PenaltyEvidence
}

export interface ClearBatchParams {
  /** The asset prices and the objective are valued in. */
  numeraire: string
  /** Prices of the previous batch (any common scale), for the single-pair tie-break. */
  previousPrices?: Record<string, bigint>
  /** At most this many non-zero fills (default: unlimited). */
  maxFillsPerBatch?: number
  /** Protocol fee in basis points of the sold amount, charged on top of it (default 0). */
  feeBps?: bigint | number
  /** Resource classes: not balance-limited, their fills become leases. */
  resourceAssets?: ReadonlySet<string> | ((asset: string) => boolean)
  /** Batch fields carried into the settlement payload only (defaults 0 / zero hash). */
  height?: bigint
  prevHeight?: bigint
  chainRef?: bigint
  batchHash?: Hex
}

export interface ClearBatchInput {
  orders: readonly SolverOrder[]
  /** Available balance per trader and asset; an absent asset is 0. */
  balances: Readonly<Record<string, Readonly<Record<string, bigint>>>>
  params: ClearBatchParams
}

/**
 * A batch's orders as columns: what a node's decoder can write straight from the wire (ids, traders
 * and amounts are fixed-width fields there), with no heap object per order. Order i is entry i of
 * every column. `clearBatch` / `solveBatch` give exactly the result of the object form
 * (`objectInputOf`): ids as lowercase 0x-hex bytes32 strings, traders as lowercase 0x-hex addresses,
 * balances `{ [trader]: { [sellAsset]: sellBalance } }`.
 */
export interface OrderTable {
  /** Number of orders. */
  length: number
  /** Order ids, 32 bytes each (the sealed order id). Any order; ascending is fastest. */
  id: Uint8Array
  /** Trader addresses, 20 bytes each. */
  trader: Uint8Array
  /** Asset keys (distinct); `sellAsset` and `buyAsset` index into it. */
  assets: readonly string[]
  sellAsset: Uint8Array | Uint16Array | Uint32Array
  buyAsset: Uint8Array | Uint16Array | Uint32Array
  /** Amounts: 64-bit words when every one fits, else bigints. */
  sellAmount: BigUint64Array | readonly bigint[]
  buyAmount: BigUint64Array | readonly bigint[]
  /** 0 sell kind, 1 buy kind. */
  kind: Uint8Array
  /** 1 partially fillable, 0 fill-or-kill. */
  partiallyFillable: Uint8Array
  /**
   * The trader's available balance of the order's sell asset (0 when it holds none): the same value
   * on every order of one trader and sell asset (`objectInputOf` rejects a table where it is not).
   */
  sellBalance: BigUint64Array | readonly bigint[]
  /** The trader-signed orders, by position (the node passes them; absent offline). */
  signed?: readonly (SignedOrder | undefined)[]
}

/** `ClearBatchInput` with the orders and balances as one `OrderTable`. */
export interface ClearTableInput {
  table: OrderTable
  params: ClearBatchParams
}

export interface OrderFill {
  id: string
  trader: Address
  sellAsset: string
  buyAsset: string
  sold: bigint
  bought: bigint
  fee: bigint
}

export type DropReason = 'INSUFFICIENT_BALANCE' | 'BAD_ORDER'

export interface DroppedOrder {
  id: string
  reason: DropReason
}

export interface BalanceChange {
  account: Address
  asset: string
  delta: bigint
}

export interface ClearBatchOutput {
  /** One price per traded asset, integers on a common scale. */
  prices: Record<string, bigint>
  /** Every input order not dropped, ascending by id, zeros when unfilled. */
  fills: OrderFill[]
  /** Ascending by id. */
  dropped: DroppedOrder[]
  /** Net change per (account, asset), token assets only, ascending by (account, asset); zero deltas left out. */
  balanceChanges: BalanceChange[]
  leases: Lease[]
  /** Trader surplus valued in numeraire units (sum of per-fill floors). */
  objective: bigint
  /** Per traded asset: sold − bought, the rounding dust the protocol keeps (fees not included). */
  dust: Record<string, bigint>
  /** Per asset: fees charged. */
  fees: Record<string, bigint>
  result: ClearingResult
  resultHash: Hex
}
