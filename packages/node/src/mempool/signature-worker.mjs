// Signature recovery off the event loop (Lodestar PR #3130: never verify on the gossip thread).
// Plain .mjs so it runs under vitest and tsx alike. Input: { id, digests: Uint8Array(32·n), sigs: Uint8Array(65·n) }
// with each signature as r ‖ s ‖ recoveryBit; output: { id, pubs: Uint8Array(64·n), ok: Uint8Array(n) }, each
// recovered public key as x ‖ y. The main thread hashes them to addresses (keccak256 in WebAssembly
// there: ~1 µs against ~6 µs for noble's JavaScript keccak here).
import { createRequire } from 'node:module'
import { parentPort, workerData } from 'node:worker_threads'
import { secp256k1 } from '@noble/curves/secp256k1.js'

const backend = workerData?.backend ?? 'noble'

let recoverPub
if (backend === 'native') {
  const require = createRequire(import.meta.url)
  // libsecp256k1 as a native addon (prebuilt); tested against noble for identical results.
  const native = require('secp256k1')
  recoverPub = (sig65, digest) => native.ecdsaRecover(sig65.subarray(0, 64), sig65[64], digest, false)
} else {
  recoverPub = (sig65, digest) => {
    const rec = new Uint8Array(65)
    rec[0] = sig65[64]
    rec.set(sig65.subarray(0, 64), 1)
    return secp256k1.recoverPublicKey(rec, digest, { prehash: false })
  }
}

function toUncompressed(pub) {
  return pub.length === 65 ? pub : secp256k1.Point.fromBytes(pub).toBytes(false)
}

parentPort.on('message', (msg) => {
  const n = msg.sigs.length / 65
  const pubs = new Uint8Array(64 * n)
  const ok = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    try {
      const pub = toUncompressed(
        recoverPub(msg.sigs.subarray(65 * i, 65 * i + 65), msg.digests.subarray(32 * i, 32 * i + 32)),
      )
      pubs.set(pub.subarray(1), 64 * i)
      ok[i] = 1
    } catch {
      ok[i] = 0
    }
  }
  parentPort.postMessage({ id: msg.id, pubs, ok }, [pubs.buffer, ok.buffer])
})
