import type { Hex } from '../bytes.js'
import { type Codec, decode, encode, fixedBytes, list, optional, struct, u32, u64 } from '../codec.js'
import { AllotError } from '../errors.js'
import { checkThreshold, splitSecret } from './feldman.js'
import { defaultRng, type Rng, randomScalar, scalarToHex } from './scalar.js'

/**
 * Batch keys are dealt in epochs: for every height h in [startHeight, startHeight + length) an
 * independent key pair (sk_h, PK_h), sk_h Shamir-shared among the n validators with threshold
 * t+1 and Feldman commitments. Independent polynomials per height are the simple sound choice:
 * releasing every share of sk_h says nothing about sk_h' (a per-epoch polynomial from which
 * per-height secrets were derived would not have that property without extra machinery).
 * Size: the public part is length·(t+1)·33 bytes, each validator's secret part length·32 bytes
 * (10,000 heights, n = 4, t = 1: 660 kB public, 320 kB per validator).
 */
export interface EpochPublic {
  startHeight: bigint
  length: number
  n: number
  t: number
  /** commitments[k] = C_0..C_t for height startHeight + k; C_0 is PK_h. */
  commitments: Hex[][]
}

export interface EpochDealing {
  public: EpochPublic
  /** shares[i-1][k] = validator i's share of sk_{startHeight+k}, 32-byte hex. */
  shares: Hex[][]
}

export const MAX_EPOCH_LENGTH = 100_000

function checkEpochParams(startHeight: bigint, length: number): void {
  if (startHeight < 0n || !Number.isInteger(length) || length < 1 || length > MAX_EPOCH_LENGTH) {
    throw new AllotError('SEAL_BAD_PARAMS', `epoch length must be 1..${MAX_EPOCH_LENGTH}, got ${length}`)
  }
}

/**
 * A trusted dealer's epoch: it sees every sk_h. Devnets only (the devnet tool deals the first
 * epoch); every later epoch, and every epoch of a real network, comes from the DKG (dkg.ts).
 */
export function dealEpoch(p: {
  startHeight: bigint
  length: number
  n: number
  t: number
  rng?: Rng
}): EpochDealing {
  checkThreshold(p.n, p.t)
  checkEpochParams(p.startHeight, p.length)
  const rng = p.rng ?? defaultRng
  const commitments: Hex[][] = []
  const shares: Hex[][] = Array.from({ length: p.n }, () => [])
  for (let k = 0; k < p.length; k++) {
    const sharing = splitSecret(randomScalar(rng), p.n, p.t, rng)
    commitments.push(sharing.commitments)
    for (let i = 0; i < p.n; i++) shares[i].push(scalarToHex(sharing.shares[i]))
  }
  return { public: { startHeight: p.startHeight, length: p.length, n: p.n, t: p.t, commitments }, shares }
}

export function epochContains(e: Pick<EpochPublic, 'startHeight' | 'length'>, height: bigint): boolean {
  return height >= e.startHeight && height < e.startHeight + BigInt(e.length)
}

/** Feldman commitments of sk_h; throws SEAL_NO_BATCH_KEY when h is outside the epoch. */
export function batchCommitments(e: EpochPublic, height: bigint): Hex[] {
  if (!epochContains(e, height)) {
    throw new AllotError(
      'SEAL_NO_BATCH_KEY',
      `no batch key for height ${height} in epoch starting ${e.startHeight}`,
    )
  }
  return e.commitments[Number(height - e.startHeight)]
}

/** PK_h (33-byte compressed hex), what clients encrypt to. */
export function batchPublicKey(e: EpochPublic, height: bigint): Hex {
  return batchCommitments(e, height)[0]
}

/** Validator `index`'s (1-based) share of sk_h from its slice of an epoch's shares. */
export function shareForHeight(e: EpochPublic, myShares: readonly Hex[], height: bigint): Hex {
  batchCommitments(e, height)
  return myShares[Number(height - e.startHeight)]
}

const point33 = fixedBytes(33)

export const epochPublicCodec: Codec<EpochPublic> = struct('EpochPublic', {
  startHeight: u64,
  length: u32,
  n: u32,
  t: u32,
  commitments: list(list(point33, 256), MAX_EPOCH_LENGTH),
})

export function encodeEpochPublic(e: EpochPublic): Uint8Array {
  return encode(epochPublicCodec, e)
}

/** Decodes and checks the shape (one commitment vector of t+1 points per height). */
export function decodeEpochPublic(b: Uint8Array): EpochPublic {
  const e = decode(epochPublicCodec, b)
  checkThreshold(e.n, e.t)
  checkEpochParams(e.startHeight, e.length)
  if (e.commitments.length !== e.length || e.commitments.some((c) => c.length !== e.t + 1)) {
    throw new AllotError('SEAL_BAD_COMMITMENT', 'epoch commitments do not match length and threshold')
  }
  return e
}

/** One validator's slice of an epoch as it keeps it: the public part and its shares (none on a non-validator). */
export interface ValidatorEpoch {
  public: EpochPublic
  shares: Hex[] | null
}

export const validatorEpochCodec: Codec<ValidatorEpoch> = struct('ValidatorEpoch', {
  public: epochPublicCodec,
  shares: optional(list(fixedBytes(32), MAX_EPOCH_LENGTH)),
})
