// Signers (issue 21 item 6): a raw key, a viem LocalAccount and a WalletClient sign the same envelope.
import {
  addressOf,
  type NodeInfo,
  openSealedOrder,
  payloadHashOf,
  privateKeyFromHex,
  recoverAddress,
  sealedOrderDigest,
  toHex,
} from '@allot/protocol'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { createWalletClient, custom } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import { buildOrder, signAndSeal, signerFrom } from '../../../src/client/index.js'

const KEY = `0x${'42'.repeat(32)}` as const
const TKA = '0x00000000000000000000000000000000000000aa'
const TKB = '0x00000000000000000000000000000000000000bb'

describe('signers: a raw key, a viem LocalAccount and a WalletClient sign the same envelope', () => {
  const batchSecret = secp256k1.utils.randomSecretKey()
  const info = {
    networkId: 'sdk',
    chainId: 31337n,
    settlement: '0x00000000000000000000000000000000000000c0',
    openBatch: 7n,
    // batch 7 closes for intake in 1 s and the client keeps a 200 ms margin: it is the target
    batchIntervalMs: 1000,
    intakeCutoffMs: 200,
    submitMarginMs: 200,
    openBatchClosesInMs: 1000,
    sealing: true,
    assets: [
      { symbol: 'TKA', ref: TKA, assetId: `0x${TKA.slice(2).padStart(64, '0')}`, kind: 'token' },
      { symbol: 'TKB', ref: TKB, assetId: `0x${TKB.slice(2).padStart(64, '0')}`, kind: 'token' },
    ],
  } as unknown as NodeInfo
  const domain = { chainId: info.chainId, verifyingContract: info.settlement }
  const account = privateKeyToAccount(KEY)
  const wallet = createWalletClient({
    account,
    transport: custom({
      request: async () => {
        throw new Error('a local account signs without the transport')
      },
    }),
  })

  for (const [name, input] of [
    ['raw key (hex)', KEY],
    ['raw key (bytes)', privateKeyFromHex(KEY)],
    ['viem LocalAccount', account],
    ['viem WalletClient', wallet],
  ] as const) {
    it(`${name}: the envelope verifies and unseals to an order its trader signed`, async () => {
      const signer = signerFrom(input)
      expect(signer.address).toBe(addressOf(privateKeyFromHex(KEY)))
      const order = buildOrder(
        info,
        { sell: 'TKA', sellAmount: 10n, buy: 'TKB', buyAmount: 9n },
        signer.address,
      )
      const sealed = await signAndSeal(info, order, signer, async () =>
        toHex(secp256k1.getPublicKey(batchSecret)),
      )
      const digest = sealedOrderDigest(domain, {
        trader: sealed.trader,
        batch: sealed.batch,
        payloadHash: payloadHashOf(sealed),
        nonce: sealed.nonce,
      })
      expect(recoverAddress(digest, sealed.signature)).toBe(signer.address)
      const opened = openSealedOrder(domain, sealed, batchSecret)
      expect(opened.ok).toBe(true)
      if (opened.ok) expect(opened.order.order).toEqual(order)
    })
  }

  it('refuses what is not a signer, with codes', () => {
    expect(() => signerFrom('0x1234')).toThrow(expect.objectContaining({ code: 'KEY_BAD_FORMAT' }))
    expect(() => signerFrom({} as never)).toThrow(expect.objectContaining({ code: 'CLIENT_BAD_SIGNER' }))
    const noAccount = createWalletClient({ transport: custom({ request: async () => null }) })
    expect(() => signerFrom(noAccount)).toThrow(expect.objectContaining({ code: 'CLIENT_NO_ACCOUNT' }))
  })
})
