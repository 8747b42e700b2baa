import type { Address, Hex } from './bytes.js'
import {
  address,
  bool,
  bytes,
  bytes32,
  decode,
  encode,
  enumOf,
  type Infer,
  list,
  optional,
  rawBytes,
  str,
  struct,
  u8,
  u32,
  u64,
  u256,
  union,
} from './codec.js'
import { AllotError } from './errors.js'
import { LIMITS, orderCancelCodec, sealedOrderCodec } from './messages.js'

/**
 * Request/response schemas of the node's p2p protocols: `/allot/api/1` (clients) and
 * `/allot/sync/1` (nodes), and the orders gossip topic's message. One length-prefixed request,
 * then one response (or, for `watchBatches`, a stream of responses). Every failure is an
 * `error` response with a stable code (errors.ts) and a human message.
 */

/**
 * Every request/response protocol of a node, one table and one naming scheme (issue 24):
 * `/allot/<network>/<kind>/<version>`. The two a peer opens before it knows the network are
 * `global`, `/allot/<kind>/<version>`: the API (a client asks `info` first) and sync (any peer asks for
 * orders and batches, each checked on arrival). A protocol missing here cannot be named anywhere.
 */
export const PROTOCOLS = {
  api: { version: 1, global: true },
  sync: { version: 1, global: true },
  'consensus-sync': { version: 1, global: false },
  keyshares: { version: 1, global: false },
  'dkg-shares': { version: 1, global: false },
  'dkg-refs': { version: 1, global: false },
} as const
export type ProtocolKind = keyof typeof PROTOCOLS
type GlobalProtocol = {
  [K in ProtocolKind]: (typeof PROTOCOLS)[K]['global'] extends true ? K : never
}[ProtocolKind]

/** The protocol id of `kind`: a network's own ones need its id. */
export function protocolOf(kind: GlobalProtocol): string
export function protocolOf(kind: Exclude<ProtocolKind, GlobalProtocol>, networkId: string): string
export function protocolOf(kind: ProtocolKind, networkId?: string): string {
  const p = PROTOCOLS[kind]
  if (p.global) return `/allot/${kind}/${p.version}`
  return `/allot/${networkId}/${kind}/${p.version}`
}

export const API_PROTOCOL = protocolOf('api')
export const SYNC_PROTOCOL = protocolOf('sync')

export const API_LIMITS = {
  /**
   * Largest request frame of any kind: a `submitMany`. Every other request is bounded by
   * `maxSingleRequestBytes` (decodeApiRequest refuses a longer one from its tag, before decoding).
   */
  maxRequestBytes: 256 * 1024,
  /** Largest request frame other than `submitMany` (a sealed order plus its wrapper). */
  maxSingleRequestBytes: LIMITS.maxSealedOrderBytes + 256,
  /**
   * Most orders in one `submitMany`: 512 ordinary sealed orders (≈ 476 bytes each, the first padding
   * class) fit in `maxRequestBytes`; larger ones fit fewer, and the client splits by bytes too. A
   * request's fixed costs (its intake pass, level write, verifier round trip, answer) are shared by
   * its orders: 512 instead of 128 per request cut the node's and client's CPU per order by a tenth
   * and more (docs/node.md, "Intake").
   */
  maxSubmitManyOrders: 512,
  /** Largest response frame a client accepts. */
  maxResponseBytes: 4 * 1024 * 1024,
  /** Most order ids one sync request may name or return. */
  maxSyncIds: 1024,
  maxSyncBatches: 64,
  /** Most heights one `batchExport` answer carries (fewer when their bytes would pass the frame). */
  maxExportBatches: 32,
} as const

/** Order statuses of CLI.md (`order status`). */
export const ORDER_STATUSES = [
  'pending',
  'included',
  'filled',
  'partially_filled',
  'unfilled',
  'resting',
  'expired',
  'cancelled',
  'rejected',
] as const
export type OrderStatusName = (typeof ORDER_STATUSES)[number]

/** What a node knows of an order; also the node's stored status record. */
export const orderStatusCodec = struct('OrderStatus', {
  orderId: bytes32,
  status: enumOf(ORDER_STATUSES),
  batch: optional(u64),
  filled: optional(struct('Filled', { sold: u256, bought: u256 })),
  txHash: optional(bytes32),
  error: optional(struct('StatusError', { code: str(64), message: str(512) })),
})
export type OrderStatus = Infer<typeof orderStatusCodec>

/** A finalized batch as `allot batch show` prints it. */
export const batchViewCodec = struct('BatchView', {
  height: u64,
  orderCount: u32,
  prices: list(struct('AssetPrice', { asset: bytes32, price: u256 }), 4096),
  fills: list(
    struct('FillView', {
      orderId: bytes32,
      trader: address,
      sellAsset: bytes32,
      buyAsset: bytes32,
      sold: u256,
      bought: u256,
    }),
    LIMITS.maxOrdersPerBatch,
  ),
  resultHash: optional(bytes32),
  signers: list(address, LIMITS.maxValidators),
  settlement: optional(struct('SettlementView', { txHash: bytes32, status: str(32) })),
})
export type BatchView = Infer<typeof batchViewCodec>

/**
 * One processed height as `batchExport` serves it (docs/backtest.md "Recorded history"): the book the
 * solver cleared (every order it saw, opened, with the amounts it entered with: a resting remainder's
 * are what was left) and what it made of it. Written by the batch pipeline of a validator.
 */
/** One order of the book a height was cleared on, with the amounts it entered the solver with. */
export const bookOrderCodec = struct('BookOrder', {
  orderId: bytes32,
  trader: address,
  sellAsset: bytes32,
  buyAsset: bytes32,
  sellAmount: u256,
  buyAmount: u256,
  kind: enumOf(['sell', 'buy'] as const),
  partial: bool,
  /** A remainder of an earlier batch, not an order of this one. */
  resting: bool,
})
export type BookOrder = Infer<typeof bookOrderCodec>

export const exportedBatchCodec = struct('ExportedBatch', {
  height: u64,
  /** The decided content's timestamp (ms since the epoch) and settlement-chain block. */
  timestamp: u64,
  chainRef: u64,
  numeraire: bytes32,
  /** Trader surplus in numeraire units, as the solver scored it. */
  objective: u256,
  orders: list(bookOrderCodec, LIMITS.maxOrdersPerBatch),
  prices: list(struct('ExportedPrice', { asset: bytes32, price: u256 }), 4096),
  fills: list(
    struct('ExportedFill', { orderId: bytes32, sold: u256, bought: u256, fee: u256 }),
    LIMITS.maxOrdersPerBatch,
  ),
  resultHash: bytes32,
  /** Once finalized and submitted: the settlement transaction and its status. */
  settlement: optional(struct('ExportedSettlement', { txHash: bytes32, status: str(32) })),
  /**
   * What each trader had available of each escrowed asset it sells, as the solver was given it; null for
   * heights processed before the node kept them.
   */
  balances: optional(
    list(
      struct('ExportedBalance', { trader: address, asset: bytes32, amount: u256 }),
      LIMITS.maxOrdersPerBatch,
    ),
  ),
})
export type ExportedBatch = Infer<typeof exportedBatchCodec>

/** The network's clearing settings a replay needs to clear as the validators did. */
export const clearingSettingsCodec = struct('ClearingSettings', {
  feeBps: u32,
  maxFillsPerBatch: u32,
  batchIntervalMs: u32,
})
export type ClearingSettings = Infer<typeof clearingSettingsCodec>

export const assetInfoCodec = struct('AssetInfo', {
  symbol: str(32),
  kind: enumOf(['token', 'resource'] as const),
  /** Token address or resource class name. */
  ref: str(64),
  assetId: bytes32,
  decimals: u8,
})
export type AssetInfo = Infer<typeof assetInfoCodec>

export const nodeInfoCodec = struct('NodeInfo', {
  peerId: str(128),
  peers: u32,
  /** The height the network works on. */
  height: u64,
  /** Last batch decided and certified here (0: none yet). */
  finalized: u64,
  /** Last batch settled on chain as far as this node knows (0: none). */
  settled: u64,
  openBatch: u64,
  version: str(32),
  networkId: str(64),
  chainId: u64,
  settlement: address,
  rpcUrl: optional(str(512)),
  assets: list(assetInfoCodec, 1024),
  listenAddrs: list(str(256), 32),
  mempoolSize: u32,
  /** The network takes sealed orders only (genesis `sealing.enabled`): clients seal to batchKey(h). */
  sealing: bool,
  /** The batch cadence (genesis `batchIntervalMs`). */
  batchIntervalMs: u32,
  /** A batch closes for new orders this long before its proposal (genesis `intakeCutoffMs`). */
  intakeCutoffMs: u32,
  /**
   * How long before its batch closes an order should reach a node so that gossip also brings it to the
   * proposer in time (genesis `inclusionGraceMs − intakeCutoffMs`). A client targets the open batch only
   * with at least this much time left, else the next one (docs/cli.md "Which batch an order targets").
   */
  submitMarginMs: u32,
  /** Milliseconds from this answer until `openBatch` closes for intake here (0: it may close any moment). */
  openBatchClosesInMs: u32,
  validators: list(struct('ValidatorInfo', { address, peerId: str(128) }), LIMITS.maxValidators),
})
export type NodeInfo = Infer<typeof nodeInfoCodec>

export const balanceViewCodec = struct('BalanceView', {
  address,
  balances: list(
    struct('AssetBalance', { asset: bytes32, escrow: u256, available: u256, pendingWithdrawal: u256 }),
    1024,
  ),
})
export type BalanceView = Infer<typeof balanceViewCodec>

export const apiRequestCodec = union('ApiRequest', {
  submit: struct('SubmitRequest', { order: sealedOrderCodec }),
  cancel: struct('CancelRequest', { cancel: orderCancelCodec }),
  status: struct('StatusRequest', { orderId: bytes32 }),
  /** `height` null: the latest finalized batch. */
  batch: struct('BatchRequest', { height: optional(u64) }),
  balances: struct('BalancesRequest', { address }),
  info: struct('InfoRequest', {}),
  batchKey: struct('BatchKeyRequest', { height: u64 }),
  watchBatches: struct('WatchRequest', {}),
  /**
   * Many orders in one request, each as its envelope's exact bytes (its id is their hash): the node
   * takes each through the same intake as `submit` and answers one outcome per order, in order. Each
   * envelope is decoded on its own, so a malformed or refused order fails only its own outcome.
   */
  submitMany: struct('SubmitManyRequest', {
    orders: list(rawBytes(LIMITS.maxSealedOrderBytes), API_LIMITS.maxSubmitManyOrders),
  }),
  /** Processed heights `from`…`to` as a history (a page of them: the answer's `next` says where to go on). */
  batchExport: struct('BatchExportRequest', { from: u64, to: u64 }),
})
export type ApiRequest = Infer<typeof apiRequestCodec>

/** The union tag of `submitMany` (the only request allowed past `maxSingleRequestBytes`). */
export const SUBMIT_MANY_TAG = encode(apiRequestCodec, { kind: 'submitMany', orders: [] })[0]

export const apiErrorCodec = struct('ApiError', { code: str(64), message: str(1024) })

/** One order's outcome in a `submitMany` answer. */
export const submitOutcomeCodec = union('SubmitOutcome', {
  submitted: struct('SubmitAccepted', { orderId: bytes32, targetBatch: u64 }),
  error: struct('SubmitRefused', { code: str(64), message: str(256) }),
})
export type SubmitOutcome = Infer<typeof submitOutcomeCodec>

export const apiResponseCodec = union('ApiResponse', {
  error: apiErrorCodec,
  submitted: struct('Submitted', { orderId: bytes32, targetBatch: u64 }),
  cancelled: struct('Cancelled', { orderId: bytes32 }),
  status: struct('StatusResponse', { status: orderStatusCodec }),
  batch: struct('BatchResponse', { batch: batchViewCodec }),
  balances: struct('BalancesResponse', { balances: balanceViewCodec }),
  info: struct('InfoResponse', { info: nodeInfoCodec }),
  batchKey: struct('BatchKeyResponse', { height: u64, publicKey: bytes(65) }),
  /** One outcome per order of a `submitMany`, in the request's order. */
  submittedMany: struct('SubmittedMany', {
    results: list(submitOutcomeCodec, API_LIMITS.maxSubmitManyOrders),
  }),
  /** A page of `batchExport`: consecutive heights from the request's `from`; `next` null once at `to`. */
  batchExport: struct('BatchExportResponse', {
    settings: clearingSettingsCodec,
    batches: list(exportedBatchCodec, API_LIMITS.maxExportBatches),
    next: optional(u64),
  }),
})
export type ApiResponse = Infer<typeof apiResponseCodec>

/** The union tag of `submittedMany` (its outcomes are written and read in place on the hot path). */
export const SUBMITTED_MANY_TAG = encode(apiResponseCodec, { kind: 'submittedMany', results: [] })[0]

/** Most order envelopes one orders-topic bundle carries. */
export const MAX_ORDERS_PER_GOSSIP_BUNDLE = 64

/**
 * Messages of the orders gossip topic: a sealed order, a signed cancellation, or a bundle of sealed
 * orders (each envelope's exact bytes: its id is their hash). A node bundles the orders it accepted
 * in one event-loop turn, so gossipsub's cost per message (framing, encryption, message id, seen
 * cache, forwarding) is paid once per bundle instead of once per order (docs/node.md "Gossip").
 */
export const orderGossipCodec = union('OrderGossip', {
  order: struct('OrderGossipOrder', { order: sealedOrderCodec }),
  cancel: struct('OrderGossipCancel', { cancel: orderCancelCodec }),
  bundle: struct('OrderGossipBundle', {
    orders: list(rawBytes(LIMITS.maxSealedOrderBytes), MAX_ORDERS_PER_GOSSIP_BUNDLE),
  }),
})
export type OrderGossip = Infer<typeof orderGossipCodec>

/** Largest orders-topic message: a full bundle (tag, count, and a length before each envelope). */
export const MAX_ORDER_GOSSIP_BYTES = 1 + 4 + MAX_ORDERS_PER_GOSSIP_BUNDLE * (4 + LIMITS.maxSealedOrderBytes)

export const syncRequestCodec = union('SyncRequest', {
  /** Full envelopes of the named orders the peer holds. */
  ordersById: struct('OrdersById', { ids: list(bytes32, API_LIMITS.maxSyncIds) }),
  /** A page of the ids of the valid orders the peer holds, ascending, after `after` (exclusive). */
  orderIds: struct('OrderIds', { after: optional(bytes32), limit: u32 }),
  /** Decided batches (encoded BatchContent) with their certificates, by height range. */
  batches: struct('BatchRange', { from: u64, to: u64 }),
})
export type SyncRequest = Infer<typeof syncRequestCodec>

export const syncResponseCodec = union('SyncResponse', {
  error: apiErrorCodec,
  orders: struct('SyncOrders', { orders: list(bytes(LIMITS.maxSealedOrderBytes), API_LIMITS.maxSyncIds) }),
  orderIds: struct('SyncOrderIds', { ids: list(bytes32, API_LIMITS.maxSyncIds), more: u8 }),
  batches: struct('SyncBatches', {
    batches: list(
      struct('SyncBatch', {
        height: u64,
        content: bytes(LIMITS.maxGossipBytes),
        certificate: optional(bytes(65536)),
      }),
      API_LIMITS.maxSyncBatches,
    ),
  }),
})
export type SyncResponse = Infer<typeof syncResponseCodec>

function checkRequestSize(b: Uint8Array): void {
  if (b.length > API_LIMITS.maxSingleRequestBytes && b[0] !== SUBMIT_MANY_TAG)
    throw new AllotError(
      'WIRE_TOO_LARGE',
      `request of ${b.length} bytes, at most ${API_LIMITS.maxSingleRequestBytes} (but submitMany)`,
    )
}
export function encodeApiRequest(r: ApiRequest): Uint8Array {
  const b = encode(apiRequestCodec, r, API_LIMITS.maxRequestBytes)
  checkRequestSize(b)
  return b
}
/** Size first (a request other than submitMany: maxSingleRequestBytes), then the strict decoder. */
export function decodeApiRequest(b: Uint8Array): ApiRequest {
  if (b instanceof Uint8Array) checkRequestSize(b)
  return decode(apiRequestCodec, b, API_LIMITS.maxRequestBytes)
}
export function encodeApiResponse(r: ApiResponse): Uint8Array {
  return encode(apiResponseCodec, r, API_LIMITS.maxResponseBytes)
}
export function decodeApiResponse(b: Uint8Array): ApiResponse {
  return decode(apiResponseCodec, b, API_LIMITS.maxResponseBytes)
}

/** Helper type for callers that hold hex ids. */
export type OrderId = Hex
export type TraderAddress = Address
