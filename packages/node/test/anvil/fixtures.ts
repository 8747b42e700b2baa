/** Builders for settlement tests and the gas bench: signed orders, fills at uniform prices, certificates. */
import {
  type Address,
  type AssetId,
  addressOf,
  type BatchCertificate,
  batchResultDigest,
  boughtForSold,
  type ClearingResult,
  type Fill,
  feeOf,
  type Hex,
  type NetworkDomain,
  type Order,
  type Penalty,
  type PrivateKey,
  privateKeyFromHex,
  resultHashOf,
  type SignedOrder,
  sealedOrderDigest,
  signDigest,
  signOrder,
  soldForBought,
} from '@allot/protocol'

export const ZERO32: Hex = `0x${'0'.repeat(64)}`

/** Deterministic keys: keccak-free, just distinct valid scalars. */
export function fixedKey(i: number): PrivateKey {
  return privateKeyFromHex(`0x${(0x1000n + BigInt(i)).toString(16).padStart(64, '0')}`)
}

export function makeOrder(o: Partial<Order> & Pick<Order, 'trader' | 'sellAsset' | 'buyAsset'>): Order {
  return {
    sellAmount: 1_000_000n,
    buyAmount: 1_000_000n,
    kind: 'sell',
    partiallyFillable: true,
    firstBatch: 1n,
    lastBatch: 1n,
    nonce: 0n,
    app: ZERO32,
    ...o,
  }
}

export function signed(domain: NetworkDomain, order: Order, key: PrivateKey): SignedOrder {
  return { order, signature: signOrder(domain, order, key) }
}

/** A fill of `so` at prices (pSell, pBuy): `amount` is sold for a sell-kind order, bought for a buy-kind one. */
export function fillAt(so: SignedOrder, pSell: bigint, pBuy: bigint, amount: bigint, feeBps: bigint): Fill {
  const o = so.order
  const sold = o.kind === 'sell' ? amount : soldForBought(amount, pSell, pBuy)
  const bought = o.kind === 'sell' ? boughtForSold(amount, pSell, pBuy) : amount
  return { order: so, orderId: ZERO32, sold, bought, fee: feeOf(sold, feeBps) }
}

export function result(
  r: Partial<ClearingResult> & Pick<ClearingResult, 'height' | 'assets' | 'prices' | 'fills'>,
): ClearingResult {
  return { prevHeight: 0n, chainRef: 1n, batchHash: ZERO32, leases: [], penalties: [], ...r }
}

/** Signatures of `signers` over BatchResult { height, resultHash(r) }, sorted by validator address. */
export function certify(domain: NetworkDomain, r: ClearingResult, signers: PrivateKey[]): BatchCertificate {
  const resultHash = resultHashOf(r)
  const digest = batchResultDigest(domain, { height: r.height, resultHash })
  const signatures = signers
    .map((k) => ({ validator: addressOf(k), signature: signDigest(digest, k) }))
    .sort((a, b) => (a.validator < b.validator ? -1 : 1))
  return { height: r.height, resultHash, signatures }
}

/**
 * A penalty with evidence: `key`'s signed envelope (EIP-712 `SealedOrder`) of batch `batch`, as the
 * pipeline builds it from a decided envelope it refused. `tag` makes distinct envelopes (payload hash).
 */
export function penaltyOf(
  domain: NetworkDomain,
  key: PrivateKey,
  batch: bigint,
  tag = 1,
  nonce = 0n,
): Penalty {
  const trader = addressOf(key)
  const payloadHash = `0x${tag.toString(16).padStart(64, '0')}` as Hex
  const signature = signDigest(sealedOrderDigest(domain, { trader, batch, payloadHash, nonce }), key)
  return {
    trader,
    orderId: `0x${(tag + 0xe0).toString(16).padStart(64, '0')}` as Hex,
    evidence: { batch, payloadHash, nonce, signature },
  }
}

export function sortAssets(a: AssetId, b: AssetId): [AssetId, AssetId] {
  return a < b ? [a, b] : [b, a]
}

export type { Address }
