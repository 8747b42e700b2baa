import {
  type Address,
  AllotError,
  addressOf,
  EIP712_TYPES,
  type Eip712TypeName,
  type Eip712Value,
  fromHex,
  type Hex,
  type NetworkDomain,
  type NodeInfo,
  type Order,
  orderMessage,
  type PrivateKey,
  payloadHashOf,
  privateKeyFromHex,
  type SealedOrder,
  type Signature,
  sealPayload,
  signatureFromBytes,
  signDigest,
  typedDataDigest,
  viemDomain,
} from '@allot/protocol'

/**
 * Who signs a trader's orders and cancellations: EIP-712 typed data of the allot domain
 * (docs/client.md). `signerFrom` makes one from a raw key, a viem `LocalAccount` or a `WalletClient`,
 * so a wallet signs, and the client never sees its key.
 */
export interface OrderSigner {
  readonly kind: 'allot-signer'
  readonly address: Address
  signTypedData(
    domain: NetworkDomain,
    primaryType: Eip712TypeName,
    message: Record<string, Eip712Value>,
  ): Promise<Signature>
}

/** viem's signTypedData request, as much of it as is used here (viem itself is not imported). */
interface TypedDataRequest {
  domain: ReturnType<typeof viemDomain>
  types: typeof EIP712_TYPES
  primaryType: Eip712TypeName
  message: Record<string, Eip712Value>
}

/**
 * A viem `LocalAccount` (`privateKeyToAccount`, `mnemonicToAccount`, …), structurally. Its
 * `signTypedData` is typed as taking `never` because viem's is generic over the typed data, which no
 * simpler type matches; it is called with a `TypedDataRequest`.
 */
export interface LocalAccountLike {
  address: Hex
  signTypedData(request: never): Promise<Hex>
}

/** A viem `WalletClient` (a browser wallet, a JSON-RPC account, …), structurally; as LocalAccountLike. */
export interface WalletClientLike {
  account?: { address: Hex } | undefined
  signTypedData(request: never): Promise<Hex>
}

type SignTypedData = (request: TypedDataRequest & { account?: { address: Hex } | Hex }) => Promise<Hex>

/** Anything `signerFrom` takes: a raw key (bytes or 0x hex), a LocalAccount, a WalletClient, or a signer. */
export type SignerInput = PrivateKey | Hex | LocalAccountLike | WalletClientLike | OrderSigner

function fromWalletSignature(hex: Hex): Signature {
  return signatureFromBytes(fromHex(hex, 65, 'SIG_MALFORMED'))
}

/**
 * The signer of `input`. A WalletClient without an account of its own needs `account` (the address it
 * signs for). Throws KEY_BAD_FORMAT for a hex string that is not a 32-byte key, CLIENT_NO_ACCOUNT for a
 * WalletClient with no account, CLIENT_BAD_SIGNER for anything else.
 */
export function signerFrom(input: SignerInput, account?: Address): OrderSigner {
  if (input instanceof Uint8Array || typeof input === 'string') {
    let key: PrivateKey
    if (typeof input === 'string') {
      if (!/^0x[0-9a-fA-F]{64}$/.test(input))
        throw new AllotError('KEY_BAD_FORMAT', 'not a 32-byte key: a private key is 0x + 64 hex digits')
      key = privateKeyFromHex(input)
    } else key = input
    return {
      kind: 'allot-signer',
      address: addressOf(key),
      signTypedData: async (domain, primaryType, message) =>
        signDigest(typedDataDigest(domain, primaryType, message), key),
    }
  }
  if (typeof input !== 'object' || input === null || typeof input.signTypedData !== 'function')
    throw new AllotError(
      'CLIENT_BAD_SIGNER',
      'a signer is a private key, a viem LocalAccount or a WalletClient',
    )
  if ('kind' in input && input.kind === 'allot-signer') return input
  const request = (
    domain: NetworkDomain,
    primaryType: Eip712TypeName,
    message: Record<string, Eip712Value>,
  ) => ({
    domain: viemDomain(domain),
    types: EIP712_TYPES,
    primaryType,
    message,
  })
  if ('address' in input && typeof input.address === 'string') {
    const local = input as LocalAccountLike
    const sign = local.signTypedData.bind(local) as SignTypedData
    return {
      kind: 'allot-signer',
      address: local.address.toLowerCase() as Address,
      signTypedData: async (domain, primaryType, message) =>
        fromWalletSignature(await sign(request(domain, primaryType, message))),
    }
  }
  const wallet = input as WalletClientLike
  const signWallet = wallet.signTypedData.bind(wallet) as SignTypedData
  const who = account ?? wallet.account?.address
  if (!who)
    throw new AllotError('CLIENT_NO_ACCOUNT', 'the WalletClient has no account: pass the address to sign for')
  return {
    kind: 'allot-signer',
    address: who.toLowerCase() as Address,
    signTypedData: async (domain, primaryType, message) =>
      fromWalletSignature(
        await signWallet({
          ...request(domain, primaryType, message),
          account: wallet.account ?? who,
        }),
      ),
  }
}

/**
 * Signs an order and its envelope with a signer, sealing it to its batch's key on a sealing network:
 * the same envelope `sealOrder` / `sealPlain` make with a raw key, two typed-data signatures (the
 * inner `Order`, then the `SealedOrder` envelope).
 */
export async function signAndSeal(
  info: NodeInfo,
  order: Order,
  signer: OrderSigner,
  batchKey: (height: bigint) => Promise<Hex>,
): Promise<SealedOrder> {
  const domain = { chainId: info.chainId, verifyingContract: info.settlement }
  if (order.trader.toLowerCase() !== signer.address)
    throw new AllotError('ORDER_BAD_SIGNATURE', 'the order names another trader than its signer')
  const signedOrder = {
    order,
    signature: await signer.signTypedData(domain, 'Order', orderMessage(order)),
  }
  let payload: SealedOrder['payload']
  let payloadHash: Hex
  if (info.sealing) {
    ;({ payload, payloadHash } = sealPayload({
      domain,
      signedOrder,
      batchPublicKey: await batchKey(order.firstBatch),
    }))
  } else {
    payload = { kind: 'plain', order: signedOrder }
    payloadHash = payloadHashOf({ payload })
  }
  const envelope = { trader: signer.address, batch: order.firstBatch, payloadHash, nonce: order.nonce }
  const signature = await signer.signTypedData(domain, 'SealedOrder', envelope)
  return { trader: signer.address, batch: order.firstBatch, nonce: order.nonce, payload, signature }
}
