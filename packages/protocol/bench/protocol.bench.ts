/**
 * Protocol hot paths: EIP-712 order signing, signature recovery and envelope encode/decode,
 * each beside the ceiling of one raw noble secp256k1 `recoverPublicKey` per operation.
 */
import '@allot/protocol/polyfill'
import {
  addressOf,
  decodeSealedOrder,
  encodeSealedOrder,
  type NetworkDomain,
  type Order,
  orderDigest,
  privateKeyFromHex,
  recoverOrderSigner,
  type SealedOrder,
  signDigest,
  signOrder,
  tokenAssetId,
} from '@allot/protocol'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { opsPerSecond, reportAgainst } from '../../../scripts/measure.js'

const domain: NetworkDomain = {
  chainId: 31337n,
  verifyingContract: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
}
const key = privateKeyFromHex('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')
const trader = addressOf(key)
const order = (i: number): Order => ({
  trader,
  sellAsset: tokenAssetId('0xe7f1725e7734ce288f8367e1bb143e90bb3f0512'),
  buyAsset: tokenAssetId('0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0'),
  sellAmount: 1_000_000n + BigInt(i),
  buyAmount: 990_000n,
  kind: 'sell',
  partiallyFillable: true,
  firstBatch: 10n,
  lastBatch: 10n,
  nonce: BigInt(i),
  app: `0x${'00'.repeat(32)}`,
})

// Ceiling: raw noble public key recovery on a fixed digest (the cost floor of verifying one signature).
const digest = orderDigest(domain, order(0))
const rawSig = secp256k1.sign(digest, key, { prehash: false, format: 'recovered' })
const ceiling = opsPerSecond(() => secp256k1.recoverPublicKey(rawSig, digest, { prehash: false }), 1500)

const signs = opsPerSecond((i) => signOrder(domain, order(i), key), 1500)
const signed = Array.from({ length: 256 }, (_, i) => ({ o: order(i), s: signOrder(domain, order(i), key) }))
const verifies = opsPerSecond((i) => {
  const x = signed[i & 255]
  if (recoverOrderSigner(domain, x.o, x.s) !== trader) throw new Error('bad recovery')
}, 1500)

const envelope: SealedOrder = {
  trader,
  batch: 10n,
  nonce: 1n,
  payload: { kind: 'plain', order: { order: order(1), signature: signed[1].s } },
  signature: signDigest(digest, key),
}
const bytes = encodeSealedOrder(envelope)
const encodes = opsPerSecond(() => encodeSealedOrder(envelope), 1000)
const decodes = opsPerSecond(() => decodeSealedOrder(bytes), 1000)

reportAgainst('order sign (EIP-712 hash + ECDSA, noble)', signs, 'ops/s', 'noble recover', ceiling)
reportAgainst('order verify (EIP-712 hash + recover, noble)', verifies, 'ops/s', 'noble recover', ceiling)
reportAgainst(`envelope encode (${bytes.length} B)`, encodes, 'ops/s', 'noble recover', ceiling)
reportAgainst(`envelope decode (${bytes.length} B)`, decodes, 'ops/s', 'noble recover', ceiling)
