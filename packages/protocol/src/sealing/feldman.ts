import type { Address, Hex } from '../bytes.js'
import { keyShareDigest, type NetworkDomain } from '../eip712.js'
import { AllotError } from '../errors.js'
import { addressOf, type PrivateKey, recoverAddress, signDigest } from '../signing.js'
import type { KeyShare } from '../types.js'
import {
  CURVE_ORDER,
  defaultRng,
  evalPoly,
  lagrangeAtZero,
  modN,
  mulBase,
  mulPublic,
  type Point,
  pointFromHex,
  pointToHex,
  type Rng,
  randomScalar,
  scalarFromHex,
  scalarToHex,
} from './scalar.js'

/**
 * Shamir secret sharing over Z_n with Feldman commitments (Feldman 1987): a dealer picks a
 * polynomial f of degree t with f(0) = secret, gives validator i (1-based) the share f(i), and
 * publishes C_k = a_k·G for every coefficient. Any share can then be checked against public data:
 * f(i)·G = Σ_k i^k·C_k. Any t+1 shares rebuild the secret; t or fewer say nothing about it.
 * C_0 = secret·G is the public key.
 */
export interface FeldmanSharing {
  /** C_0..C_t, compressed points; C_0 is the public key. */
  commitments: Hex[]
  /** shares[i-1] = f(i) for validator index i = 1..n. */
  shares: bigint[]
}

/** One validator's share of a secret: its 1-based index and f(index). */
export interface IndexedShare {
  index: number
  value: bigint
}

export function checkThreshold(n: number, t: number): void {
  if (!Number.isInteger(n) || !Number.isInteger(t) || t < 0 || n < t + 1 || n > 65535) {
    throw new AllotError('SEAL_BAD_PARAMS', `need integers 0 ≤ t < n ≤ 65535, got n=${n}, t=${t}`)
  }
}

/** Random polynomial of degree t with the given constant term. */
export function randomPolynomial(secret: bigint, t: number, rng: Rng = defaultRng): bigint[] {
  const coeffs = [modN(secret)]
  for (let k = 1; k <= t; k++) coeffs.push(randomScalar(rng))
  return coeffs
}

export function commitPolynomial(coeffs: readonly bigint[]): Point[] {
  return coeffs.map((a) => mulBase(a))
}

/** Shares `secret` among n validators, threshold t+1 (polynomial degree t). */
export function splitSecret(secret: bigint, n: number, t: number, rng: Rng = defaultRng): FeldmanSharing {
  checkThreshold(n, t)
  const coeffs = randomPolynomial(secret, t, rng)
  const shares: bigint[] = []
  for (let i = 1; i <= n; i++) shares.push(evalPoly(coeffs, BigInt(i)))
  return { commitments: commitPolynomial(coeffs).map(pointToHex), shares }
}

/** Σ_k index^k·C_k: the point index's share must equal times G. */
export function expectedSharePoint(commitments: readonly Point[], index: number): Point {
  const x = BigInt(index)
  // Horner in the group: (((C_t)·x + C_{t-1})·x + ...) + C_0.
  let acc = commitments[commitments.length - 1]
  for (let k = commitments.length - 2; k >= 0; k--) acc = mulPublic(acc, x).add(commitments[k])
  return acc
}

/** Parses commitments once, for repeated share checks. Throws SEAL_BAD_COMMITMENT. */
export function parseCommitments(commitments: readonly Hex[]): Point[] {
  if (commitments.length === 0) throw new AllotError('SEAL_BAD_COMMITMENT', 'no commitments')
  return commitments.map((c) => pointFromHex(c, 'SEAL_BAD_COMMITMENT'))
}

/** True iff share·G = Σ_k index^k·C_k (Feldman's check). */
export function verifyShare(
  commitments: readonly Hex[] | readonly Point[],
  index: number,
  share: bigint,
): boolean {
  if (!Number.isInteger(index) || index < 1) return false
  if (share < 0n || share >= CURVE_ORDER) return false
  const pts =
    typeof commitments[0] === 'string' ? parseCommitments(commitments as Hex[]) : (commitments as Point[])
  return mulBase(share).equals(expectedSharePoint(pts, index))
}

/** Lagrange interpolation at 0 from exactly the shares given (distinct indices). */
export function interpolateSecret(shares: readonly IndexedShare[]): bigint {
  const indices = shares.map((s) => s.index)
  if (new Set(indices).size !== indices.length)
    throw new AllotError('SEAL_BAD_SHARE', 'duplicate share index')
  let acc = 0n
  for (const s of shares) acc = modN(acc + s.value * lagrangeAtZero(s.index, indices))
  return acc
}

export interface RecoveredSecret {
  secret: bigint
  /** Indices whose shares failed their commitments (ignored). */
  invalid: number[]
}

/**
 * Rebuilds the secret from any t+1 valid shares: checks each share against the commitments,
 * ignores bad ones, interpolates the first t+1 good ones and checks secret·G = C_0.
 * Throws SEAL_NOT_ENOUGH_SHARES with fewer than t+1 valid shares.
 */
export function recoverSecret(commitments: readonly Hex[], shares: readonly IndexedShare[]): RecoveredSecret {
  const pts = parseCommitments(commitments)
  const t = pts.length - 1
  const good: IndexedShare[] = []
  const invalid: number[] = []
  const seen = new Set<number>()
  for (const s of shares) {
    if (seen.has(s.index)) continue
    seen.add(s.index)
    if (good.length > t) break
    if (verifyShare(pts, s.index, s.value)) good.push(s)
    else invalid.push(s.index)
  }
  if (good.length < t + 1) {
    throw new AllotError('SEAL_NOT_ENOUGH_SHARES', `${good.length} valid shares, need ${t + 1}`, { invalid })
  }
  const secret = interpolateSecret(good)
  if (!mulBase(secret).equals(pts[0]))
    throw new AllotError('SEAL_BAD_SHARE', 'rebuilt secret does not match C_0')
  return { secret, invalid }
}

/** A validator's signed release of its share of sk_h (protocol `KeyShare`, EIP-712 `KeyShare`). */
export function signKeyShare(
  domain: NetworkDomain,
  s: { height: bigint; index: number; share: bigint },
  validatorKey: PrivateKey,
): KeyShare {
  const share = scalarToHex(s.share)
  const signature = signDigest(
    keyShareDigest(domain, { height: s.height, index: s.index, share }),
    validatorKey,
  )
  return { height: s.height, index: s.index, share, validator: addressOf(validatorKey), signature }
}

/**
 * Checks a released share: signed by the validator it names, which holds `index` in the
 * validator list (`validators[index-1]`), and valid against the height's commitments.
 * Throws SEAL_BAD_SHARE (or SEAL_UNKNOWN_VALIDATOR) — a node ignores such a share.
 */
export function verifyKeyShare(
  domain: NetworkDomain,
  ks: KeyShare,
  commitments: readonly Hex[] | readonly Point[],
  validators: readonly Address[],
): IndexedShare {
  const expected = validators[ks.index - 1]
  if (expected === undefined || expected.toLowerCase() !== ks.validator.toLowerCase()) {
    throw new AllotError('SEAL_UNKNOWN_VALIDATOR', `index ${ks.index} is not validator ${ks.validator}`)
  }
  const signer = recoverAddress(
    keyShareDigest(domain, { height: ks.height, index: ks.index, share: ks.share }),
    ks.signature,
    'SEAL_BAD_SHARE',
  )
  if (signer !== ks.validator.toLowerCase())
    throw new AllotError('SEAL_BAD_SHARE', 'share not signed by its validator')
  const value = scalarFromHex(ks.share)
  if (!verifyShare(commitments, ks.index, value)) {
    throw new AllotError('SEAL_BAD_SHARE', `share of validator ${ks.index} fails its Feldman commitments`)
  }
  return { index: ks.index, value }
}
