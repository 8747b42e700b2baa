import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex as nobleBytesToHex, hexToBytes as nobleHexToBytes } from '@noble/hashes/utils.js'
import { AllotError } from './errors.js'
import { createWasmKeccak } from './keccak-wasm.js'

/** A 0x-prefixed lowercase hex string. */
export type Hex = `0x${string}`
/** A 0x-prefixed 20-byte address, lowercase. */
export type Address = Hex

/**
 * Hex digits written into one reused buffer and read back as one flat string (Node's Buffer). noble's
 * `bytesToHex` appends two characters at a time, which leaves a chain of ~n intermediate strings per
 * call: at intake's rate (a few ids and addresses per order) that garbage was a tenth of the
 * collector's work. Without Buffer (a browser) noble serves; a unit test compares the two.
 */
const HEX_DIGITS = new TextEncoder().encode('0123456789abcdef')
const HEX_SCRATCH_BYTES = 64
const hexScratch: Buffer | undefined =
  typeof Buffer === 'function' ? Buffer.from('0x'.padEnd(2 + 2 * HEX_SCRATCH_BYTES, '0')) : undefined

export function toHex(bytes: Uint8Array): Hex {
  const n = bytes.length
  if (hexScratch === undefined || n > HEX_SCRATCH_BYTES) return `0x${nobleBytesToHex(bytes)}`
  for (let i = 0; i < n; i++) {
    const b = bytes[i]
    hexScratch[2 + 2 * i] = HEX_DIGITS[b >> 4]
    hexScratch[3 + 2 * i] = HEX_DIGITS[b & 15]
  }
  return hexScratch.toString('latin1', 0, 2 + 2 * n) as Hex
}

/** noble's hex, the reference `toHex` is tested against. */
export function toHexReference(bytes: Uint8Array): Hex {
  return `0x${nobleBytesToHex(bytes)}`
}

export function fromHex(hex: string, expectedLength?: number, code = 'WIRE_MALFORMED'): Uint8Array {
  if (typeof hex !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(hex)) {
    throw new AllotError(code, `not a 0x-prefixed even-length hex string: ${String(hex).slice(0, 80)}`)
  }
  const bytes = nobleHexToBytes(hex.slice(2))
  if (expectedLength !== undefined && bytes.length !== expectedLength) {
    throw new AllotError(code, `expected ${expectedLength} bytes, got ${bytes.length}`)
  }
  return bytes
}

/**
 * keccak256 runs in WebAssembly (keccak-wasm.ts: ~1.0 µs for a 310-byte order envelope against
 * ~13 µs for noble's JavaScript, and an order is hashed several times at intake). Where WebAssembly is
 * unavailable noble — the reference, same bytes out — serves. A unit test checks both give the same
 * digests for every length around the block boundaries.
 */
const wasmKeccak = createWasmKeccak()

export function keccak256(data: Uint8Array): Uint8Array {
  if (wasmKeccak === undefined) return keccak_256(data)
  const out = new Uint8Array(32)
  wasmKeccak.into(data, out, 0)
  return out
}

/** keccak256(data) written to out[at..at+32), allocating nothing (intake's hot path). */
export function keccak256Into(data: Uint8Array, out: Uint8Array, at = 0): void {
  if (wasmKeccak === undefined) out.set(keccak_256(data), at)
  else wasmKeccak.into(data, out, at)
}

/** noble's keccak256, the reference the WebAssembly one is tested against. */
export function keccak256Reference(data: Uint8Array): Uint8Array {
  return keccak_256(data)
}

export function keccak256Hex(data: Uint8Array): Hex {
  return toHex(keccak256(data))
}

/**
 * n bytes whose every byte the caller will write: not zero-filled and not from Node's shared Buffer
 * pool (so a short-lived buffer never keeps a pool slab alive). For frames of tens of kB built per
 * request, the zero fill alone was 6 % of the API client's CPU (perf).
 */
export function uninitializedBytes(n: number): Uint8Array<ArrayBuffer> {
  if (typeof Buffer !== 'function') return new Uint8Array(n)
  const b = Buffer.allocUnsafeSlow(n)
  return new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, n)
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i]
  return d === 0
}

export function isAddress(x: unknown): x is Address {
  return typeof x === 'string' && /^0x[0-9a-fA-F]{40}$/.test(x)
}

export function isBytes32(x: unknown): x is Hex {
  return typeof x === 'string' && /^0x[0-9a-fA-F]{64}$/.test(x)
}

export function normalizeAddress(x: string): Address {
  if (!isAddress(x)) throw new AllotError('WIRE_MALFORMED', `not an address: ${String(x).slice(0, 80)}`)
  return x.toLowerCase() as Address
}

/** 32-byte big-endian word of an unsigned integer (uint256 semantics). */
export function uintToWord(v: bigint): Uint8Array {
  if (v < 0n || v >= 1n << 256n) throw new AllotError('WIRE_MALFORMED', `uint256 out of range: ${v}`)
  const out = new Uint8Array(32)
  let x = v
  for (let i = 31; i >= 0 && x > 0n; i--) {
    out[i] = Number(x & 0xffn)
    x >>= 8n
  }
  return out
}

export function wordToUint(word: Uint8Array): bigint {
  let v = 0n
  for (const b of word) v = (v << 8n) | BigInt(b)
  return v
}

/** 32-byte word of a signed integer (int256 two's complement). */
export function intToWord(v: bigint): Uint8Array {
  return uintToWord(v < 0n ? (1n << 256n) + v : v)
}
