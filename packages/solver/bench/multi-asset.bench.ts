/**
 * Multi-asset (random limits ±5% around hidden prices, rings occur naturally): solver time and surplus
 * (its objective) beside the like-for-like reference (test/reference/surplus.ts: best surplus over every
 * vertex of the limit arrangement plus a pattern search, exact fills at each price vector) where it runs
 * within ~60 s, and the time HiGHS takes on the traded-value MIP of the same instance (test/reference/mip.ts)
 * as the speed yardstick. Goal: ≥ 99% of the optimum and ≥ 10× faster than HiGHS. 10 assets with
 * 200 / 2,000 / 20,000 orders (no reference: 10 assets have 10⁸ spanning trees), plus small instances.
 */
import '@allot/protocol/polyfill'
import { clearBatch, verifyResult } from '../src/index.js'
import { randomMultiAsset } from '../test/reference/instances.js'
import { solveMip } from '../test/reference/mip.js'
import { solverSurplus, surplusReference } from '../test/reference/surplus.js'

const cases: [number, number, number, boolean, number][] = [
  // seed, assets, orders, run the surplus reference, HiGHS time limit (s; 0 = not run): the issue's
  // yardstick is HiGHS where it finishes within 60 s.
  [101, 4, 12, true, 60],
  [102, 6, 24, true, 60],
  [106, 7, 30, true, 60],
  [103, 10, 200, false, 60],
  [104, 10, 2_000, false, 0],
  [105, 10, 20_000, false, 0],
]
// A validator solves a batch every interval, so its JIT is warm: 40 solves of other random instances
// (seeds not among the cases, 4–10 assets, 12–200 orders) before anything is timed.
for (let k = 0; k < 40; k++) clearBatch(randomMultiAsset(1_000 + k, 4 + (k % 7), 12 + ((k * 37) % 189), 0.05))
// Every case is timed before any reference or HiGHS runs: for about a second after a HiGHS solve in
// this process the solver ran 2–4× slower (7/30: 18–44 ms against 8–10 ms), which charged the
// yardstick's own aftermath to the solver.
const timed = cases.map(([seed, assets, orders]) => {
  const input = randomMultiAsset(seed, assets, orders, 0.05)
  // One untimed solve of this instance, then the best of 5.
  let ms = Number.POSITIVE_INFINITY
  let out = clearBatch(input)
  for (let k = 0; k < 5; k++) {
    const t = performance.now()
    out = clearBatch(input)
    ms = Math.min(ms, performance.now() - t)
  }
  return { input, out, ms }
})
for (const [i, [, assets, orders, withRef, limit]] of cases.entries()) {
  const { input, out, ms } = timed[i]
  verifyResult(input, out)
  const mine = solverSurplus(input, out)
  const fills = out.fills.filter((f) => f.sold > 0n).length
  let ref = 'reference not run (10 assets: 10⁸ spanning trees)'
  if (withRef) {
    const r = surplusReference(input)
    ref = `reference ${r.value.toExponential(4)} (${r.vertices} vertices, ${r.evals} evaluations, ${(r.ms / 1000).toFixed(1)} s${r.truncated ? ', truncated' : ''}) | solver/reference ${((100 * mine) / r.value).toFixed(2)}%`
  }
  let highs = 'HiGHS not run'
  if (limit > 0) {
    let mip = await solveMip(input, { timeLimit: limit })
    // Where HiGHS finishes quickly, its best of 3 too (its time on one instance varies ~3× run to run).
    for (let k = 0; k < 2 && mip.status === 'Optimal' && mip.ms < 5_000; k++) {
      const again = await solveMip(input, { timeLimit: limit })
      if (again.status === 'Optimal' && again.ms < mip.ms) mip = again
    }
    highs =
      mip.status === 'Optimal'
        ? `HiGHS traded-value MIP ${mip.ms.toFixed(0)} ms, solver ${(mip.ms / ms).toFixed(0)}× faster`
        : `HiGHS traded-value MIP: ${mip.status} after ${mip.ms.toFixed(0)} ms`
  }
  console.log(
    `multi-asset ${assets} assets ${String(orders).padStart(6)} orders: solver ${ms.toFixed(1).padStart(8)} ms, ${fills} fills, surplus ${mine.toExponential(4)} | ${ref} | ${highs}`,
  )
}
