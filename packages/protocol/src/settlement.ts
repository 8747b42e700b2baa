import { type AssetId, isResourceAssetId } from './assets.js'
import { fromHex, type Hex, keccak256, toHex } from './bytes.js'
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
 * struct PenaltyData { address trader; bytes32 orderId; uint64 batch; bytes32 payloadHash;   // the trader's
 *                      uint256 nonce; uint8 v; bytes32 r; bytes32 s; }               // signed envelope
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
  PenaltyData:
    'address trader, bytes32 orderId, uint64 batch, bytes32 payloadHash, uint256 nonce, uint8 v, bytes32 r, bytes32 s',
  BatchSettlement:
    'uint64 height, uint64 prevHeight, uint64 chainRef, bytes32 batchHash, bytes32[] assets, uint256[] prices, FillData[] fills, LeaseData[] leases, PenaltyData[] penalties',
} as const

const WORD = 32
const ORDER_WORDS = 11
const FILL_WORDS = ORDER_WORDS + 3 + 3 + 2
const LEASE_WORDS = 6
const PENALTY_WORDS = 8

// The encoder writes every word in place into one buffer (no Uint8Array per word): a settlement
// with 10⁴ fills has ~2·10⁵ words. Bytes are those of `abi.encode` (checked against viem in tests).

const HEX_VAL = new Int8Array(128).fill(-1)
for (let c = 0; c < 10; c++) HEX_VAL[48 + c] = c
for (let c = 0; c < 6; c++) {
  HEX_VAL[65 + c] = 10 + c
  HEX_VAL[97 + c] = 10 + c
}

/** Writes the `len` bytes of hex string `h` at buf[off..off+len); errors exactly as `fromHex`. */
function putHex(buf: Uint8Array, off: number, h: string, len: number): void {
  if (
    typeof h !== 'string' ||
    h.length !== 2 + 2 * len ||
    h.charCodeAt(0) !== 48 ||
    h.charCodeAt(1) !== 120
  ) {
    buf.set(fromHex(h, len), off) // throws the canonical error (or writes a valid odd form)
    return
  }
  for (let k = 0; k < len; k++) {
    const a = h.charCodeAt(2 + 2 * k)
    const b = h.charCodeAt(3 + 2 * k)
    const x = a < 128 ? HEX_VAL[a] : -1
    const y = b < 128 ? HEX_VAL[b] : -1
    if (x < 0 || y < 0) {
      buf.set(fromHex(h, len), off)
      return
    }
    buf[off + k] = (x << 4) | y
  }
}

const TWO_256 = 1n << 256n

/** Writes uint256 `v` big-endian into the (zeroed) word at buf[off..off+32); range errors as `uintToWord`. */
function putUint(buf: Uint8Array, off: number, v: bigint): void {
  if (v < 0n || v >= TWO_256) throw new AllotError('WIRE_MALFORMED', `uint256 out of range: ${v}`)
  if (v <= 0xffffffffn) {
    let x = Number(v)
    for (let i = 31; i >= 28 && x > 0; i--) {
      buf[off + i] = x & 0xff
      x = Math.floor(x / 256)
    }
    return
  }
  const h = v.toString(16)
  const odd = h.length & 1
  const n = (h.length + odd) >> 1
  let k = off + 32 - n
  if (odd) buf[k++] = HEX_VAL[h.charCodeAt(0)]
  for (let c = odd; c < h.length; c += 2)
    buf[k++] = (HEX_VAL[h.charCodeAt(c)] << 4) | HEX_VAL[h.charCodeAt(c + 1)]
}

function putAddress(buf: Uint8Array, off: number, a: Hex): void {
  putHex(buf, off + 12, a, 20)
}

function putOrder(buf: Uint8Array, off: number, o: Order): number {
  putAddress(buf, off, o.trader)
  putHex(buf, off + 32, o.sellAsset, 32)
  putHex(buf, off + 64, o.buyAsset, 32)
  putUint(buf, off + 96, o.sellAmount)
  putUint(buf, off + 128, o.buyAmount)
  putUint(buf, off + 160, BigInt(ORDER_KIND_CODE[o.kind]))
  putUint(buf, off + 192, o.partiallyFillable ? 1n : 0n)
  putUint(buf, off + 224, o.firstBatch)
  putUint(buf, off + 256, o.lastBatch)
  putUint(buf, off + 288, o.nonce)
  putHex(buf, off + 320, o.app, 32)
  return off + ORDER_WORDS * WORD
}

function putFill(buf: Uint8Array, off: number, f: Fill, index: Map<AssetId, number>): void {
  const sellIndex = index.get(f.order.order.sellAsset)
  const buyIndex = index.get(f.order.order.buyAsset)
  if (sellIndex === undefined || buyIndex === undefined) {
    throw new AllotError('SETTLE_BAD_PAYLOAD', 'a fill names an asset without a price')
  }
  const sig = f.order.signature
  const o = putOrder(buf, off, f.order.order)
  putUint(buf, o, BigInt(sig.v))
  putHex(buf, o + 32, sig.r, 32)
  putHex(buf, o + 64, sig.s, 32)
  putUint(buf, o + 96, f.sold)
  putUint(buf, o + 128, f.bought)
  putUint(buf, o + 160, f.fee)
  putUint(buf, o + 192, BigInt(sellIndex))
  putUint(buf, o + 224, BigInt(buyIndex))
}

function putLease(buf: Uint8Array, off: number, l: Lease): void {
  putAddress(buf, off, l.provider)
  putAddress(buf, off + 32, l.consumer)
  putHex(buf, off + 64, l.resource, 32)
  putUint(buf, off + 96, l.quantity)
  putHex(buf, off + 128, l.quoteAsset, 32)
  putUint(buf, off + 160, l.payment)
}

function putPenalty(buf: Uint8Array, off: number, p: Penalty): void {
  const e = p.evidence
  putAddress(buf, off, p.trader)
  putHex(buf, off + 32, p.orderId, 32)
  putUint(buf, off + 64, e.batch)
  putHex(buf, off + 96, e.payloadHash, 32)
  putUint(buf, off + 128, e.nonce)
  putUint(buf, off + 160, BigInt(e.signature.v))
  putHex(buf, off + 192, e.signature.r, 32)
  putHex(buf, off + 224, e.signature.s, 32)
}

/** `abi.encode(BatchSettlement)`: the bytes the contract receives and hashes. */
export function encodeSettlementPayload(r: ClearingResult): Uint8Array {
  if (r.assets.length !== r.prices.length)
    throw new AllotError('SETTLE_BAD_PAYLOAD', 'assets and prices differ in length')
  const index = new Map<AssetId, number>()
  for (const [i, a] of r.assets.entries()) index.set(a, i)
  // Dynamic arrays of static elements: length word, then the elements' words.
  const arrays: [number, number][] = [
    [r.assets.length, 1],
    [r.prices.length, 1],
    [r.fills.length, FILL_WORDS],
    [r.leases.length, LEASE_WORDS],
    [r.penalties.length, PENALTY_WORDS],
  ]
  const headWords = 4 + arrays.length
  let total = WORD * (1 + headWords)
  for (const [n, per] of arrays) total += WORD * (1 + n * per)
  const buf = new Uint8Array(total)
  // A single dynamic tuple as the only parameter: first word is its offset (0x20).
  putUint(buf, 0, 32n)
  const base = WORD
  putUint(buf, base, r.height)
  putUint(buf, base + 32, r.prevHeight)
  putUint(buf, base + 64, r.chainRef)
  putHex(buf, base + 96, r.batchHash, 32)
  let offset = headWords * WORD // relative to the tuple's start
  const starts: number[] = []
  for (let k = 0; k < arrays.length; k++) {
    putUint(buf, base + (4 + k) * WORD, BigInt(offset))
    starts.push(base + offset)
    offset += WORD * (1 + arrays[k][0] * arrays[k][1])
  }
  for (let k = 0; k < arrays.length; k++) putUint(buf, starts[k], BigInt(arrays[k][0]))
  let o = starts[0] + WORD
  for (const a of r.assets) {
    putHex(buf, o, a, 32)
    o += WORD
  }
  o = starts[1] + WORD
  for (const p of r.prices) {
    putUint(buf, o, p)
    o += WORD
  }
  o = starts[2] + WORD
  for (const f of r.fills) {
    putFill(buf, o, f, index)
    o += FILL_WORDS * WORD
  }
  o = starts[3] + WORD
  for (const l of r.leases) {
    putLease(buf, o, l)
    o += LEASE_WORDS * WORD
  }
  o = starts[4] + WORD
  for (const p of r.penalties) {
    putPenalty(buf, o, p)
    o += PENALTY_WORDS * WORD
  }
  return buf
}

export function resultHashOf(r: ClearingResult): Hex {
  return toHex(keccak256(encodeSettlementPayload(r)))
}

// ---- fees and the price rules the contract enforces ----

export const BPS = 10_000n

/**
 * The largest amount an order may name. The settlement contract checks limits as
 * `sellAmount · price · 10⁴` in 256 bits with prices kept below 2^100 by the solver, so amounts stay
 * below 2^112 (about 5·10³³: a billion billion whole 18-decimal tokens) and no check can overflow.
 * Intake, the batch pipeline and the client refuse larger ones (`ORDER_BAD_AMOUNT`).
 */
export const MAX_ORDER_AMOUNT = (1n << 112n) - 1n

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
