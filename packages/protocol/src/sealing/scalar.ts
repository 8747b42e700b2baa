import { invert, mod } from '@noble/curves/abstract/modular.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { concatBytes, fromHex, type Hex, toHex, uintToWord, wordToUint } from '../bytes.js'
import { AllotError } from '../errors.js'

/**
 * Arithmetic in the secp256k1 scalar field Z_n and on its group, as Shamir sharing, Feldman
 * commitments and the DKG need it. Points travel as 33-byte compressed SEC1, scalars as 32-byte words.
 */
export const Point = secp256k1.Point
export type Point = InstanceType<typeof secp256k1.Point>
export const CURVE_ORDER: bigint = Point.CURVE().n

/** A source of random bytes. Production code uses the default (a CSPRNG); tests pass a seeded one. */
export type Rng = (length: number) => Uint8Array

export const defaultRng: Rng = (n) => randomBytes(n)

/**
 * A seeded, deterministic byte stream (SHA-256 in counter mode over the seed). For tests and
 * reproducible benchmarks only: never for keys that protect anything.
 */
export function deterministicRng(seed: string): Rng {
  const s = new TextEncoder().encode(seed)
  let counter = 0n
  return (n) => {
    const out = new Uint8Array(n)
    for (let o = 0; o < n; o += 32) {
      const block = sha256(concatBytes(s, uintToWord(counter++)))
      out.set(block.subarray(0, Math.min(32, n - o)), o)
    }
    return out
  }
}

export function modN(x: bigint): bigint {
  return mod(x, CURVE_ORDER)
}

export function invN(x: bigint): bigint {
  return invert(modN(x), CURVE_ORDER)
}

/** A uniform non-zero scalar: 48 random bytes reduced mod n−1, plus one (bias < 2^-128). */
export function randomScalar(rng: Rng = defaultRng): bigint {
  let v = 0n
  for (const b of rng(48)) v = (v << 8n) | BigInt(b)
  return mod(v, CURVE_ORDER - 1n) + 1n
}

export function scalarToBytes(x: bigint): Uint8Array {
  return uintToWord(modN(x))
}

export function scalarToHex(x: bigint): Hex {
  return toHex(scalarToBytes(x))
}

/** Parses a 32-byte scalar; throws `code` unless it is canonical (< n). */
export function scalarFromHex(h: string, code = 'SEAL_BAD_SHARE'): bigint {
  const v = wordToUint(fromHex(h, 32, code))
  if (v >= CURVE_ORDER) throw new AllotError(code, 'scalar not below the curve order')
  return v
}

export function pointToHex(p: Point): Hex {
  return toHex(p.toBytes(true))
}

/** Parses a compressed or uncompressed point; rejects the identity and points off the curve. */
export function pointFromHex(h: string, code = 'SEAL_BAD_POINT'): Point {
  try {
    const p = Point.fromBytes(fromHex(h, undefined, code))
    p.assertValidity()
    return p
  } catch (e) {
    if (e instanceof AllotError) throw e
    throw new AllotError(code, `not a valid secp256k1 point: ${(e as Error).message}`)
  }
}

/** x·G; zero maps to the identity (only ever as an intermediate). */
export function mulBase(x: bigint): Point {
  const s = modN(x)
  return s === 0n ? Point.ZERO : Point.BASE.multiply(s)
}

/** x·P for public x (not constant time). */
export function mulPublic(p: Point, x: bigint): Point {
  const s = modN(x)
  return s === 0n ? Point.ZERO : p.multiplyUnsafe(s)
}

/** Evaluates the polynomial with coefficients `coeffs` (constant first) at x, mod n (Horner). */
export function evalPoly(coeffs: readonly bigint[], x: bigint): bigint {
  let acc = 0n
  for (let k = coeffs.length - 1; k >= 0; k--) acc = modN(acc * x + coeffs[k])
  return acc
}

/** Lagrange coefficient λ_i at 0 for the index set `indices` (distinct, non-zero). */
export function lagrangeAtZero(i: number, indices: readonly number[]): bigint {
  let num = 1n
  let den = 1n
  const xi = BigInt(i)
  for (const j of indices) {
    if (j === i) continue
    const xj = BigInt(j)
    num = modN(num * xj)
    den = modN(den * (xj - xi))
  }
  return modN(num * invN(den))
}
