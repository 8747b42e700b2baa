// The termination sweep of issue 24 ("one trader stops consensus for good"): the deterministic consensus
// simulation with each validator's intake rules and hostile traders (equivocating, splitting, late,
// flooding, bond-flipping; 1–3 per seed) on top of its Byzantine validators, crashes and partitions.
// Every seed must keep every invariant — agreement, validity, no honest double-sign, inclusion — and
// terminate: from the heal on, no gap between decided heights longer than the bound (25 s).
//
//   pnpm sim:termination --seeds 10000 [--from 1] [--legacy-intake] [--traders equivocate,split]
//
// `--legacy-intake` runs the intake and inclusion rule of before the fix (a fetched order refused for a
// nonce conflict, the cap or the bond): the seeds whose hostile traders split the validators stall.
// Replay one seed with `pnpm sim --seed S --trace` (the same run, with its trace).
import '@allot/protocol/polyfill'
import { runSimulation } from '../packages/node/src/consensus/sim/simulation.js'
import { TRADER_BEHAVIOURS, type TraderBehaviour } from '../packages/node/src/consensus/sim/traders.js'

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const from = Number(arg('from') ?? 1)
const count = Number(arg('seeds') ?? 1000)
const legacyIntake = process.argv.includes('--legacy-intake')
const traders = arg('traders')?.split(',') as TraderBehaviour[] | undefined
for (const t of traders ?? []) {
  if (!TRADER_BEHAVIOURS.includes(t))
    throw new Error(`unknown trader behaviour ${t}: ${TRADER_BEHAVIOURS.join(', ')}`)
}

const started = performance.now()
const failed: { seed: number; violations: string[]; traders: string[]; n: number }[] = []
const gaps: number[] = []
const refused: Record<string, number> = {}
const byTrader = new Map<string, number>()
let heights = 0
let maxRound = 0
for (let seed = from; seed < from + count; seed++) {
  const r = runSimulation({ seed, legacyIntake, hostileTraders: traders })
  gaps.push(r.stats.maxGapAfterHealMs)
  heights += Math.min(...r.heights) - 1
  maxRound = Math.max(maxRound, r.stats.maxRound)
  for (const [k, v] of Object.entries(r.stats.intakeRefused)) refused[k] = (refused[k] ?? 0) + v
  for (const t of r.hostileTraders) byTrader.set(t, (byTrader.get(t) ?? 0) + 1)
  if (!r.ok) failed.push({ seed, violations: r.violations, traders: r.hostileTraders, n: r.validators })
  if ((seed - from + 1) % 500 === 0)
    console.error(`… ${seed - from + 1}/${count} seeds, ${failed.length} failing`)
}
gaps.sort((a, b) => a - b)
const q = (p: number) => gaps[Math.min(gaps.length - 1, Math.floor(gaps.length * p))]
const secs = (performance.now() - started) / 1000
console.log(
  `seeds ${from}..${from + count - 1}${legacyIntake ? ' (legacy intake)' : ''}: ${count - failed.length} passed, ${failed.length} failed, ${secs.toFixed(1)} s`,
)
console.log(`hostile traders (seeds with each): ${[...byTrader].map(([k, v]) => `${k} ${v}`).join(', ')}`)
console.log(
  `longest gap between decided heights after the heal, per seed (ms): p50 ${q(0.5)}, p99 ${q(0.99)}, max ${gaps[gaps.length - 1]}`,
)
console.log(`heights decided (min over validators, summed): ${heights}; highest round: ${maxRound}`)
console.log(
  `intake refusals: ${Object.entries(refused)
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}`,
)
for (const f of failed.slice(0, 10)) {
  console.log(`\nFAIL seed ${f.seed} (n=${f.n}, traders ${f.traders.join(',')}):`)
  for (const v of f.violations.slice(0, 5)) console.log(`  ${v}`)
}
process.exit(failed.length > 0 ? 1 : 0)
