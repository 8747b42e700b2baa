import { hashTypedData, verifyTypedData } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import {
  addressOf,
  batchResultDigest,
  EIP712_TYPES,
  fromHex,
  isAllotError,
  type NetworkDomain,
  type Order,
  orderDigest,
  orderMessage,
  privateKeyFromHex,
  recoverOrderSigner,
  resourceAssetId,
  signatureFromBytes,
  signatureToHex,
  signOrder,
  toHex,
  tokenAssetId,
  viemDomain,
  voteDigest,
} from '../../src/index.js'

const KEY_HEX = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const domain: NetworkDomain = {
  chainId: 31337n,
  verifyingContract: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
}

function sampleOrder(trader: `0x${string}`): Order {
  return {
    trader,
    sellAsset: tokenAssetId('0xe7f1725e7734ce288f8367e1bb143e90bb3f0512'),
    buyAsset: resourceAssetId('cpu.vcore-hour'),
    sellAmount: 1_000_000_000_000_000_000n,
    buyAmount: 12n,
    kind: 'sell',
    partiallyFillable: true,
    firstBatch: 7n,
    lastBatch: 9n,
    nonce: 42n,
    app: `0x${'00'.repeat(32)}`,
  }
}

describe('EIP-712 orders, cross-checked with viem', () => {
  const key = privateKeyFromHex(KEY_HEX)
  const trader = addressOf(key)
  const account = privateKeyToAccount(KEY_HEX)

  it('derives the same address as viem', () => {
    expect(trader).toBe(account.address.toLowerCase())
  })

  it('hashes an order exactly as viem does', () => {
    const order = sampleOrder(trader)
    const viemHash = hashTypedData({
      domain: viemDomain(domain),
      types: EIP712_TYPES,
      primaryType: 'Order',
      message: orderMessage(order),
    })
    expect(toHex(orderDigest(domain, order))).toBe(viemHash)
  })

  it('an order signed here verifies with viem', async () => {
    const order = sampleOrder(trader)
    const sig = signOrder(domain, order, key)
    const ok = await verifyTypedData({
      address: account.address,
      domain: viemDomain(domain),
      types: EIP712_TYPES,
      primaryType: 'Order',
      message: orderMessage(order),
      signature: signatureToHex(sig),
    })
    expect(ok).toBe(true)
  })

  it('an order signed by viem (as a wallet would) verifies here', async () => {
    const order = sampleOrder(trader)
    const sigHex = await account.signTypedData({
      domain: viemDomain(domain),
      types: EIP712_TYPES,
      primaryType: 'Order',
      message: orderMessage(order),
    })
    const sig = signatureFromBytes(fromHex(sigHex))
    expect(recoverOrderSigner(domain, order, sig)).toBe(trader)
    // A different network (chain id) does not verify as the same signer.
    const other = recoverOrderSigner({ ...domain, chainId: 1n }, order, sig)
    expect(other).not.toBe(trader)
  })

  it('votes and batch results hash as viem does', () => {
    const vote = { type: 'precommit' as const, height: 5n, round: 2, valueHash: null }
    const viemVote = hashTypedData({
      domain: viemDomain(domain),
      types: EIP712_TYPES,
      primaryType: 'Vote',
      message: { voteType: 2, height: 5n, round: 2, valueHash: `0x${'00'.repeat(32)}` },
    })
    expect(toHex(voteDigest(domain, vote))).toBe(viemVote)
    const r = { height: 9n, resultHash: `0x${'ab'.repeat(32)}` as const }
    expect(toHex(batchResultDigest(domain, r))).toBe(
      hashTypedData({
        domain: viemDomain(domain),
        types: EIP712_TYPES,
        primaryType: 'BatchResult',
        message: r,
      }),
    )
  })

  it('rejects a high-s (malleable) signature with a code', () => {
    const order = sampleOrder(trader)
    const sig = signOrder(domain, order, key)
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
    const highS = {
      r: sig.r,
      s: `0x${(n - BigInt(sig.s)).toString(16).padStart(64, '0')}` as const,
      v: sig.v === 27 ? 28 : 27,
    }
    try {
      recoverOrderSigner(domain, order, highS)
      expect.unreachable()
    } catch (e) {
      expect(isAllotError(e, 'ORDER_BAD_SIGNATURE')).toBe(true)
    }
  })
})
