/**
 * Ceilings for the node's hot paths, one core: raw secp256k1 ECDH/s and signature recovery/s,
 * noble (reference) vs node:crypto (OpenSSL) vs libsecp256k1 native addon (src/crypto).
 * Other benchmarks (sealing.bench.ts) print their figures beside these, measured in their own run.
 */
import '@allot/protocol/polyfill'
import {
  deterministicRng,
  type EcdhFn,
  nobleEcdh,
  randomScalar,
  recoverAddress,
  scalarToBytes,
  signDigest,
} from '@allot/protocol'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { cryptoBackend, ecdhFast, recoverAddressFast } from '../src/crypto/index.js'
import { measureRate, nodeCryptoEcdh, printRate } from './ceilings.js'

const rng = deterministicRng('crypto-bench')
const priv = scalarToBytes(randomScalar(rng))
const pubs = Array.from({ length: 2000 }, () =>
  secp256k1.getPublicKey(scalarToBytes(randomScalar(rng)), true),
)

console.log(`backend: ${cryptoBackend}`)
const ecdhImpls: [string, EcdhFn, number][] = [
  ['noble', nobleEcdh, 1500],
  ['node:crypto', nodeCryptoEcdh(priv), 3000],
  ['libsecp256k1 native', ecdhFast, 20000],
]
const ecdhRates: Record<string, number> = {}
for (const [name, f, n] of ecdhImpls) {
  ecdhRates[name] = measureRate(n, (i) => f(priv, pubs[i % pubs.length]))
  printRate(`ECDH ${name}`, ecdhRates[name])
}
console.log(
  `  native / node:crypto = ${(ecdhRates['libsecp256k1 native'] / ecdhRates['node:crypto']).toFixed(1)}×`,
)

const digests = Array.from({ length: 500 }, () => rng(32))
const sigs = digests.map((d) => signDigest(d, scalarToBytes(randomScalar(rng))))
const recoverImpls: [string, (d: Uint8Array, s: (typeof sigs)[number]) => unknown, number][] = [
  ['noble', (d, s) => recoverAddress(d, s), 1000],
  ['libsecp256k1 native', recoverAddressFast, 20000],
]
for (const [name, f, n] of recoverImpls) {
  printRate(
    `recover→address ${name}`,
    measureRate(n, (i) => f(digests[i % 500], sigs[i % 500])),
  )
}
