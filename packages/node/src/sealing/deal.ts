import { randomBytes } from 'node:crypto'
import {
  CURVE_ORDER,
  checkThreshold,
  type EpochDealing,
  type Hex,
  MAX_EPOCH_LENGTH,
  scalarToBytes,
  scalarToHex,
  toHex,
} from '@allot/protocol'
import { publicKeyFast } from '../crypto/index.js'

/**
 * Batches a devnet's dealt epoch covers: six hours at the batch interval, at most MAX_EPOCH_LENGTH.
 * A longer epoch costs start-up time (dealing, and every node loading it) until epochs roll over by DKG.
 */
const DEVNET_EPOCH_MS = 6 * 3_600_000

export function devnetEpochLength(batchIntervalMs: number): number {
  return Math.min(MAX_EPOCH_LENGTH, Math.ceil(DEVNET_EPOCH_MS / Math.max(1, batchIntervalMs)))
}

function randomNonZeroScalar(): bigint {
  for (;;) {
    const k = BigInt(`0x${randomBytes(32).toString('hex')}`)
    if (k > 0n && k < CURVE_ORDER) return k
  }
}

/**
 * The trusted dealer of a devnet's first epoch, as protocol `dealEpoch` (same layout: per height an
 * independent degree-t polynomial, Feldman commitments C_0..C_t with C_0 = PK_h, share i = f(i)) but with
 * libsecp256k1 for the t+1 base-point multiplications per height: a day of 1-second batches (86,400
 * heights) deals in seconds instead of minutes. Randomness: node:crypto. The dealer sees every sk_h —
 * devnets only (docs/sealing.md).
 */
export function dealDevnetEpoch(p: {
  startHeight: bigint
  length: number
  n: number
  t: number
}): EpochDealing {
  checkThreshold(p.n, p.t)
  if (!Number.isInteger(p.length) || p.length < 1 || p.length > MAX_EPOCH_LENGTH) {
    throw new Error(`epoch length must be 1..${MAX_EPOCH_LENGTH}`)
  }
  const commitments: Hex[][] = []
  const shares: Hex[][] = Array.from({ length: p.n }, () => [])
  for (let k = 0; k < p.length; k++) {
    const coeffs = Array.from({ length: p.t + 1 }, randomNonZeroScalar)
    commitments.push(coeffs.map((c) => toHex(publicKeyFast(scalarToBytes(c)))))
    for (let i = 1; i <= p.n; i++) {
      // Horner: f(i) = (((a_t·i + a_{t-1})·i + ...)·i + a_0) mod N
      let acc = 0n
      for (let j = p.t; j >= 0; j--) acc = (acc * BigInt(i) + coeffs[j]) % CURVE_ORDER
      shares[i - 1].push(scalarToHex(acc))
    }
  }
  return { public: { startHeight: p.startHeight, length: p.length, n: p.n, t: p.t, commitments }, shares }
}
