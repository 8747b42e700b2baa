// The validators' DKG (docs/sealing.md "The DKG run by the nodes"): CPU per validator for one epoch of
// L heights, n = 4, t = 1, all four participants in one process over a perfect in-memory channel.
// Native curve ops (libsecp256k1, what run.ts uses) and noble (the fallback), beside the ceiling: raw
// native k·G (publicKeyCreate) per second, same run. A participant does per height t+1 k·G to deal,
// and per other dealer one k·G + t point multiplications + a sum to check its shares.
import '@allot/protocol/polyfill'
import { createRequire } from 'node:module'
import { cpuUsage } from 'node:process'
import {
  type DkgCurveOps,
  type DkgMessage,
  DkgParticipant,
  deterministicRng,
  scalarToBytes,
} from '@allot/protocol'
import { nativeDkgOps } from '../src/sealing/index.js'

function cpuMs<T>(f: () => T): { ms: number; out: T } {
  const c = cpuUsage()
  const out = f()
  const d = cpuUsage(c)
  return { ms: (d.user + d.system) / 1000, out }
}

function dkg(length: number, ops: DkgCurveOps | undefined): void {
  const ps = [1, 2, 3, 4].map(
    (i) =>
      new DkgParticipant({
        index: i,
        n: 4,
        t: 1,
        startHeight: 1n,
        length,
        rng: deterministicRng(`b${i}`),
        ops,
      }),
  )
  const deliver = (from: number, msgs: DkgMessage[]) => {
    for (const m of msgs) {
      if (m.type === 'shares') ps[m.to - 1].receive(m)
      else for (const q of ps) if (q.index !== from) q.receive(m)
    }
  }
  for (const p of ps) deliver(p.index, p.start())
  for (const p of ps) deliver(p.index, p.endDealPhase())
  for (const p of ps) deliver(p.index, p.endComplaintPhase())
  for (const p of ps) if (!p.finishPublic().shares) throw new Error('DKG failed')
}

const lib = createRequire(import.meta.url)('secp256k1') as {
  publicKeyCreate(k: Uint8Array, c: boolean): Uint8Array
}
const keys = Array.from({ length: 4000 }, (_, i) => scalarToBytes(BigInt(i + 1) * 7919n + 12345678901234567n))
const ceiling = cpuMs(() => {
  for (const k of keys) lib.publicKeyCreate(k, true)
})
const kgPerSec = (keys.length / ceiling.ms) * 1000
console.log(`ceiling: native k·G ${Math.round(kgPerSec).toLocaleString('en')} /s`)

const rows: [string, number, DkgCurveOps | undefined][] = [
  ['native', 2000, nativeDkgOps],
  ['noble', 50, undefined],
]
for (const [name, length, ops] of rows) {
  if (name === 'native' && !ops) {
    console.log('native: addon not loaded, skipped')
    continue
  }
  let best = Number.POSITIVE_INFINITY
  for (let r = 0; r < 3; r++) best = Math.min(best, cpuMs(() => dkg(length, ops)).ms)
  const perValidator = best / 4
  const perHeight = perValidator / length
  // The k·G-equivalents one validator does per height: 2 to deal + 3 dealers × (1 + t + sum) ≈ 2 + 3·3.
  const floorMs = (11 / kgPerSec) * 1000
  console.log(
    `${name}: epoch of ${length} heights: ${perValidator.toFixed(0)} ms CPU per validator ` +
      `(${(perHeight * 1000).toFixed(0)} µs/height; 10,000 heights ≈ ${((perHeight * 10_000) / 1000).toFixed(1)} s); ` +
      `ceiling 11 native k·G per height = ${(floorMs * 1000).toFixed(0)} µs → ${(perHeight / floorMs).toFixed(1)}×`,
  )
}
