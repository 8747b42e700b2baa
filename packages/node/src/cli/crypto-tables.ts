import { secp256k1 } from '@noble/curves/secp256k1.js'

/**
 * For a command that signs a few messages and exits (`order submit`, `keys generate`…): noble builds
 * its secp256k1 base-point table on the first multiplication, and the default table costs a cold
 * process ~150–300 ms to build here, more than the handful of operations it then speeds up. A
 * window of 2 builds in ~40 ms (measured on this machine: first key + 4 signatures 100–125 ms against
 * 240–450 ms). Never for `node start`, whose every envelope check wants the large table.
 */
export function useSmallCurveTables(): void {
  secp256k1.Point.BASE.precompute(2)
}
