import type { Address, Hex } from '../bytes.js'
import type { NetworkDomain } from '../eip712.js'
import type { SealedOrder } from '../types.js'
import { type OpenOptions, type OpenResult, openSealedOrder } from './ecies.js'
import { type IndexedShare, recoverSecret } from './feldman.js'
import { scalarToBytes } from './scalar.js'

/** sk_h from released shares: checks each against the commitments, ignores bad ones, needs t+1 good ones. */
export function recoverBatchSecretKey(
  commitments: readonly Hex[],
  shares: readonly IndexedShare[],
): { secretKey: Uint8Array; invalid: number[] } {
  const { secret, invalid } = recoverSecret(commitments, shares)
  return { secretKey: scalarToBytes(secret), invalid }
}

export interface UnsealedOrder {
  orderId: Hex
  trader: Address
  result: OpenResult
}

/**
 * Opens every sealed order of decided batch `height` (one ECDH each). An order sealed for another
 * batch fails as SEAL_WRONG_BATCH. Invalid orders come back with their reason, for the penalty.
 */
export function unsealBatch(
  domain: NetworkDomain,
  height: bigint,
  orders: readonly { orderId: Hex; sealed: SealedOrder }[],
  batchSecretKey: Uint8Array,
  opts: OpenOptions = {},
): UnsealedOrder[] {
  return orders.map(({ orderId, sealed }) => ({
    orderId,
    trader: sealed.trader,
    result:
      sealed.batch === height
        ? openSealedOrder(domain, sealed, batchSecretKey, opts)
        : { ok: false, reason: 'SEAL_WRONG_BATCH', message: `sealed for ${sealed.batch}, not ${height}` },
  }))
}
