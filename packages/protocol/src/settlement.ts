import { type AssetId, isResourceAssetId } from './assets.js'
import { concatBytes, fromHex, type Hex, keccak256, toHex, uintToWord } from './bytes.js'
import { ORDER_KIND_CODE } from './eip712.js'
import { AllotError } from './errors.js'
import type { ClearingResult, Fill, Lease, Order, Penalty } from './types.js'

/**
 * The settlement payload: the exact bytes the `AllotSettlement` contract receives for one batch,
 * `abi.encode(BatchSettlement)` with the Solidity types below, and `resultHash = keccak256(payload)`,
 * which validators sign as `BatchResult { height, resultHash }` and the contract recomputes.
 *
 * ```solidity
 * struct OrderData   { address trader; bytes32 sellAsset; bytes32 buyAsset; uint256 sellAmount;
 *                      uint256 buyAmount; uint8 kind; bool partiallyFillable; uint64 firstBatch;
 *                      uint64 lastBatch; uint256 nonce; bytes32 app; }              // kind: 0 sell, 1 buy
 * struct FillData    { OrderData order; uint8 v; bytes32 r; bytes32 s;                  // trader's EIP-712 Order signature
 *                      uint256 sold; uint256 bought; uint256 fee; uint16 sellIndex; uint16 buyIndex; }
 * struct LeaseData   { address provider; address consumer; bytes32 resource; uint256 quantity;
 *                      bytes32 quoteAsset; uint256 payment; }
 * struct PenaltyData { address trader; bytes32 orderId; }
 * struct BatchSettlement { uint64 height; uint64 prevHeight; uint64 chainRef; bytes32 batchHash;
 *                      bytes32[] assets; uint256[] prices; FillData[] fills; LeaseData[] leases;
 *                      PenaltyData[] penalties; }
 * ```
 * `sellIndex`/`buyIndex` point into `assets`/`prices` (so the contract needs no search);
 * `assets` ascend strictly. Fills are ordered by ascending order id (the sealed envelope id) as the solver emits them.
 */
export const SETTLEMENT_ABI_TYPES = {
  OrderData:
    'address trader, bytes32 sellAsset, bytes32 buyAsset, uint256 sellAmount, uint256 buyAmount, uint8 kind, bool partiallyFillable, uint64 firstBatch, uint64 lastBatch, uint256 nonce, bytes32 app',
  FillData:
    'OrderData order, uint8 v, bytes32 r, bytes32 s, uint256 sold, uint256 bought, uint256 fee, uint16 sellIndex, uint16 buyIndex',
  LeaseData:
    'address provider, address consumer, bytes32 resource, uint256 quantity, bytes32 quoteAsset, uint256 payment',
  PenaltyData: 'address trader, bytes32 orderId',
  BatchSettlement:
    'uint64 height, uint64 prevHeight, uint64 chainRef, bytes32 batchHash, bytes32[] assets, uint256[] prices, FillData[] fills, LeaseData[] leases, PenaltyData[] penalties',
} as const

const WORD = 32
const ORDER_WORDS = 11
const FILL_WORDS = ORDER_WORDS + 3 + 3 + 2
const LEASE_WORDS = 6
const PENALTY_WORDS = 2

function addressWord(a: Hex): Uint8Array {
  const w = new Uint8Array(WORD)
  w.set(fromHex(a, 20), 12)
  return w
}

function orderWords(o: Order): Uint8Array[] {
  return [
    addressWord(o.trader),
    fromHex(o.sellAsset, 32),
    fromHex(o.buyAsset, 32),
    uintToWord(o.sellAmount),
    uintToWord(o.buyAmount),
    uintToWord(BigInt(ORDER_KIND_CODE[o.kind])),
    uintToWord(o.partiallyFillable ? 1n : 0n),
    uintToWord(o.firstBatch),
    uintToWord(o.lastBatch),
    uintToWord(o.nonce),
    fromHex(o.app, 32),
  ]
}

function fillWords(f: Fill, index: Map<AssetId, number>): Uint8Array[] {
  const sellIndex = index.get(f.order.order.sellAsset)
  const buyIndex = index.get(f.order.order.buyAsset)
  if (sellIndex === undefined || buyIndex === undefined) {
    throw new AllotError('SETTLE_BAD_PAYLOAD', 'a fill names an asset without a price')
  }
  const sig = f.order.signature
  return [
    ...orderWords(f.order.order),
    uintToWord(BigInt(sig.v)),
    fromHex(sig.r, 32),
    fromHex(sig.s, 32),
    uintToWord(f.sold),
    uintToWord(f.bought),
    uintToWord(f.fee),
    uintToWord(BigInt(sellIndex)),
    uintToWord(BigInt(buyIndex)),
  ]
}

function leaseWords(l: Lease): Uint8Array[] {
  return [
    addressWord(l.provider),
    addressWord(l.consumer),
    fromHex(l.resource, 32),
    uintToWord(l.quantity),
    fromHex(l.quoteAsset, 32),
    uintToWord(l.payment),
  ]
}

function penaltyWords(p: Penalty): Uint8Array[] {
  return [addressWord(p.trader), fromHex(p.orderId, 32)]
}

/** ABI-encodes a dynamic array of static elements: length word, then the elements' words. */
function staticArray<T>(items: readonly T[], words: (x: T) => Uint8Array[], perItem: number): Uint8Array {
  const out = new Uint8Array(WORD * (1 + items.length * perItem))
  out.set(uintToWord(BigInt(items.length)), 0)
  let o = WORD
  for (const it of items) {
    for (const w of words(it)) {
      out.set(w, o)
      o += WORD
    }
  }
  return out
}

/** `abi.encode(BatchSettlement)`: the bytes the contract receives and hashes. */
export function encodeSettlementPayload(r: ClearingResult): Uint8Array {
  if (r.assets.length !== r.prices.length)
    throw new AllotError('SETTLE_BAD_PAYLOAD', 'assets and prices differ in length')
  const index = new Map<AssetId, number>()
  for (const [i, a] of r.assets.entries()) index.set(a, i)
  const tails = [
    staticArray(r.assets, (a) => [fromHex(a, 32)], 1),
    staticArray(r.prices, (p) => [uintToWord(p)], 1),
    staticArray(r.fills, (f) => fillWords(f, index), FILL_WORDS),
    staticArray(r.leases, leaseWords, LEASE_WORDS),
    staticArray(r.penalties, penaltyWords, PENALTY_WORDS),
  ]
  const headWords = 4 + tails.length
  const head: Uint8Array[] = [
    uintToWord(r.height),
    uintToWord(r.prevHeight),
    uintToWord(r.chainRef),
    fromHex(r.batchHash, 32),
  ]
  let offset = headWords * WORD
  for (const t of tails) {
    head.push(uintToWord(BigInt(offset)))
    offset += t.length
  }
  // A single dynamic tuple as the only parameter: first word is its offset (0x20).
  return concatBytes(uintToWord(32n), ...head, ...tails)
}

export function resultHashOf(r: ClearingResult): Hex {
  return toHex(keccak256(encodeSettlementPayload(r)))
}

// ---- fees and the price rules the contract enforces ----

export const BPS = 10_000n

/** The protocol fee on a fill, charged in the sell asset on top of `sold`: ceil(sold · feeBps / 10⁴). */
export function feeOf(sold: bigint, feeBps: bigint): bigint {
  return (sold * feeBps + BPS - 1n) / BPS
}

/**
 * Whether uniform prices respect an order's limit, fee included:
 * sellAmount · p[sell] · 10⁴ ≥ buyAmount · p[buy] · (10⁴ + feeBps). With feeBps = 0 this is
 * CLI.md's `sellAmount · p[X] ≥ buyAmount · p[Y]`.
 */
export function priceRespectsLimit(o: Order, pSell: bigint, pBuy: bigint, feeBps = 0n): boolean {
  return o.sellAmount * pSell * BPS >= o.buyAmount * pBuy * (BPS + feeBps)
}

/** Sell kind: bought = floor(sold · p[X] / p[Y]). */
export function boughtForSold(sold: bigint, pSell: bigint, pBuy: bigint): bigint {
  return (sold * pSell) / pBuy
}

/** Buy kind: sold = ceil(bought · p[Y] / p[X]). */
export function soldForBought(bought: bigint, pSell: bigint, pBuy: bigint): bigint {
  return (bought * pBuy + pSell - 1n) / pSell
}

export function isResourceFill(f: Fill): boolean {
  return isResourceAssetId(f.order.order.sellAsset) || isResourceAssetId(f.order.order.buyAsset)
}
