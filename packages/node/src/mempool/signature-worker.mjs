// Signature recovery off the event loop (Lodestar PR #3130: never verify on the gossip thread).
// Plain .mjs so it runs under vitest and tsx alike. Input: { id, digests: Uint8Array(32·n), sigs: Uint8Array(65·n) }
// with each signature as r ‖ s ‖ recoveryBit; output: { id, pubs: Uint8Array(64·n), ok: Uint8Array(n) }, each
// recovered public key as x ‖ y. The main thread hashes them to addresses (keccak256 in WebAssembly
// there: ~1 µs against ~6 µs for noble's JavaScript keccak here).
import { createRequire } from 'node:module'
import { parentPort, workerData } from 'node:worker_threads'
import { secp256k1 } from '@noble/curves/secp256k1.js'

const backend = workerData?.backend ?? 'noble'

// Each recovery writes x ‖ y of the key into `pubs` at `at`, or throws. The native path reuses
// preallocated input and output buffers: no typed array is allocated per signature, which is garbage
// the collector's threads would otherwise sweep at every order's rate.
let recoverInto
if (backend === 'native') {
  const require = createRequire(import.meta.url)
  // libsecp256k1 as a native addon (prebuilt); tested against noble for identical results. bindings.js
  // loads only the addon: the package's index.js would fall back to elliptic (pure JS) unannounced.
  const native = require('secp256k1/bindings.js')
  const sig64 = new Uint8Array(64)
  const msg32 = new Uint8Array(32)
  const pub65 = new Uint8Array(65)
  recoverInto = (sigs, digests, i, pubs) => {
    const s = 65 * i
    const d = 32 * i
    for (let k = 0; k < 64; k++) sig64[k] = sigs[s + k]
    for (let k = 0; k < 32; k++) msg32[k] = digests[d + k]
    native.ecdsaRecover(sig64, sigs[s + 64], msg32, false, pub65)
    const at = 64 * i
    for (let k = 0; k < 64; k++) pubs[at + k] = pub65[k + 1]
  }
} else {
  recoverInto = (sigs, digests, i, pubs) => {
    const rec = new Uint8Array(65)
    rec[0] = sigs[65 * i + 64]
    rec.set(sigs.subarray(65 * i, 65 * i + 64), 1)
    const pub = secp256k1.recoverPublicKey(rec, digests.subarray(32 * i, 32 * i + 32), { prehash: false })
    pubs.set(secp256k1.Point.fromBytes(pub).toBytes(false).subarray(1), 64 * i)
  }
}

parentPort.on('message', (msg) => {
  const n = msg.sigs.length / 65
  const pubs = new Uint8Array(64 * n)
  const ok = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    try {
      recoverInto(msg.sigs, msg.digests, i, pubs)
      ok[i] = 1
    } catch {
      ok[i] = 0
    }
  }
  parentPort.postMessage({ id: msg.id, pubs, ok }, [pubs.buffer, ok.buffer])
})
