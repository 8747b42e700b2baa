import {
  type Address,
  concatBytes,
  fromHex,
  type Hex,
  intToWord,
  keccak256,
  toHex,
  uintToWord,
} from './bytes.js'
import { type PrivateKey, recoverAddress, signDigest } from './signing.js'
import type { BatchResult, Order, OrderCancel, Signature } from './types.js'

/**
 * EIP-712 typed data for every signed allot message. The domain names the network: the chain id
 * and the settlement contract, so no signature replays on another network or chain.
 * The settlement contract (packages/node/contracts) hashes `Order` and `BatchResult` the same way.
 */
export interface NetworkDomain {
  chainId: bigint
  verifyingContract: Address
}

export const DOMAIN_NAME = 'allot'
export const DOMAIN_VERSION = '1'

type FieldType = 'address' | 'bool' | 'uint8' | 'uint32' | 'uint64' | 'uint256' | 'int32' | 'bytes32'
type Field = { name: string; type: FieldType }

/** The typed-data definitions, in the shape viem and wallets take (`types` of signTypedData). */
export const EIP712_TYPES = {
  Order: [
    { name: 'trader', type: 'address' },
    { name: 'sellAsset', type: 'bytes32' },
    { name: 'buyAsset', type: 'bytes32' },
    { name: 'sellAmount', type: 'uint256' },
    { name: 'buyAmount', type: 'uint256' },
    { name: 'kind', type: 'uint8' },
    { name: 'partiallyFillable', type: 'bool' },
    { name: 'firstBatch', type: 'uint64' },
    { name: 'lastBatch', type: 'uint64' },
    { name: 'nonce', type: 'uint256' },
    { name: 'app', type: 'bytes32' },
  ],
  SealedOrder: [
    { name: 'trader', type: 'address' },
    { name: 'batch', type: 'uint64' },
    { name: 'payloadHash', type: 'bytes32' },
    { name: 'nonce', type: 'uint256' },
  ],
  OrderCancel: [
    { name: 'trader', type: 'address' },
    { name: 'orderId', type: 'bytes32' },
  ],
  Proposal: [
    { name: 'height', type: 'uint64' },
    { name: 'round', type: 'uint32' },
    { name: 'valueHash', type: 'bytes32' },
    { name: 'validRound', type: 'int32' },
  ],
  Vote: [
    { name: 'voteType', type: 'uint8' },
    { name: 'height', type: 'uint64' },
    { name: 'round', type: 'uint32' },
    { name: 'valueHash', type: 'bytes32' },
  ],
  BatchResult: [
    { name: 'height', type: 'uint64' },
    { name: 'resultHash', type: 'bytes32' },
  ],
  KeyShare: [
    { name: 'height', type: 'uint64' },
    { name: 'index', type: 'uint32' },
    { name: 'share', type: 'bytes32' },
  ],
} as const satisfies Record<string, readonly Field[]>

export type Eip712TypeName = keyof typeof EIP712_TYPES
export type Eip712Value = bigint | boolean | number | string

const enc = new TextEncoder()

function typeString(name: string, fields: readonly Field[]): string {
  return `${name}(${fields.map((f) => `${f.type} ${f.name}`).join(',')})`
}

const TYPE_HASHES = Object.fromEntries(
  Object.entries(EIP712_TYPES).map(([name, fields]) => [
    name,
    keccak256(enc.encode(typeString(name, fields))),
  ]),
) as Record<Eip712TypeName, Uint8Array>

export function typeHash(name: Eip712TypeName): Hex {
  return toHex(TYPE_HASHES[name])
}

function encodeField(type: FieldType, value: Eip712Value): Uint8Array {
  switch (type) {
    case 'address':
      return concatBytes(new Uint8Array(12), fromHex(value as string, 20))
    case 'bytes32':
      return fromHex(value as string, 32)
    case 'bool':
      return uintToWord(value ? 1n : 0n)
    case 'int32':
      return intToWord(BigInt(value as number))
    default:
      return uintToWord(BigInt(value as bigint | number))
  }
}

/** hashStruct(s) = keccak256(typeHash ‖ encodeData(s)), EIP-712. */
export function hashStruct(name: Eip712TypeName, value: Record<string, Eip712Value>): Uint8Array {
  const fields = EIP712_TYPES[name]
  const parts: Uint8Array[] = [TYPE_HASHES[name]]
  for (const f of fields) parts.push(encodeField(f.type, value[f.name]))
  return keccak256(concatBytes(...parts))
}

const DOMAIN_TYPE_HASH = keccak256(
  enc.encode('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'),
)

export function domainSeparator(domain: NetworkDomain): Uint8Array {
  return keccak256(
    concatBytes(
      DOMAIN_TYPE_HASH,
      keccak256(enc.encode(DOMAIN_NAME)),
      keccak256(enc.encode(DOMAIN_VERSION)),
      uintToWord(domain.chainId),
      concatBytes(new Uint8Array(12), fromHex(domain.verifyingContract, 20)),
    ),
  )
}

const separatorCache = new Map<string, Uint8Array>()
function cachedSeparator(domain: NetworkDomain): Uint8Array {
  const key = `${domain.chainId}:${domain.verifyingContract.toLowerCase()}`
  let sep = separatorCache.get(key)
  if (!sep) {
    sep = domainSeparator(domain)
    separatorCache.set(key, sep)
  }
  return sep
}

/** The digest a wallet signs: keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message)). */
export function typedDataDigest(
  domain: NetworkDomain,
  name: Eip712TypeName,
  value: Record<string, Eip712Value>,
): Uint8Array {
  return keccak256(
    concatBytes(new Uint8Array([0x19, 0x01]), cachedSeparator(domain), hashStruct(name, value)),
  )
}

/** The domain as viem's signTypedData / verifyTypedData take it. */
export function viemDomain(domain: NetworkDomain) {
  return {
    name: DOMAIN_NAME,
    version: DOMAIN_VERSION,
    chainId: domain.chainId,
    verifyingContract: domain.verifyingContract,
  } as const
}

// ---- per-message helpers ----

export const ORDER_KIND_CODE = { sell: 0, buy: 1 } as const

/** An order as EIP-712 (and viem's signTypedData) sees it: `kind` as its uint8 code. */
export type OrderMessage = Omit<Order, 'kind'> & { kind: number }

export function orderMessage(order: Order): OrderMessage {
  return { ...order, kind: ORDER_KIND_CODE[order.kind] }
}

export function orderDigest(domain: NetworkDomain, order: Order): Uint8Array {
  return typedDataDigest(domain, 'Order', orderMessage(order))
}

export function signOrder(domain: NetworkDomain, order: Order, key: PrivateKey): Signature {
  return signDigest(orderDigest(domain, order), key)
}

export function recoverOrderSigner(domain: NetworkDomain, order: Order, sig: Signature): Address {
  return recoverAddress(orderDigest(domain, order), sig, 'ORDER_BAD_SIGNATURE')
}

export function sealedOrderDigest(
  domain: NetworkDomain,
  m: { trader: Address; batch: bigint; payloadHash: Hex; nonce: bigint },
): Uint8Array {
  return typedDataDigest(domain, 'SealedOrder', m)
}

export function cancelDigest(domain: NetworkDomain, c: Pick<OrderCancel, 'trader' | 'orderId'>): Uint8Array {
  return typedDataDigest(domain, 'OrderCancel', { trader: c.trader, orderId: c.orderId })
}

export function batchResultDigest(domain: NetworkDomain, r: BatchResult): Uint8Array {
  return typedDataDigest(domain, 'BatchResult', { height: r.height, resultHash: r.resultHash })
}

export const VOTE_TYPE_CODE = { prevote: 1, precommit: 2 } as const
export const NIL_HASH: Hex = `0x${'0'.repeat(64)}`

export function voteDigest(
  domain: NetworkDomain,
  v: { type: 'prevote' | 'precommit'; height: bigint; round: number; valueHash: Hex | null },
): Uint8Array {
  return typedDataDigest(domain, 'Vote', {
    voteType: VOTE_TYPE_CODE[v.type],
    height: v.height,
    round: v.round,
    valueHash: v.valueHash ?? NIL_HASH,
  })
}

export function proposalDigest(
  domain: NetworkDomain,
  p: { height: bigint; round: number; valueHash: Hex; validRound: number },
): Uint8Array {
  return typedDataDigest(domain, 'Proposal', p)
}

export function keyShareDigest(
  domain: NetworkDomain,
  k: { height: bigint; index: number; share: Hex },
): Uint8Array {
  return typedDataDigest(domain, 'KeyShare', k)
}
