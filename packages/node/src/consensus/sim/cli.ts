import '@allot/protocol/polyfill'
import { runSimulation, type SimResult } from './simulation.js'
import type { TraderBehaviour } from './traders.js'

/**
 * `pnpm sim --seeds N [--from S] [--seed S --trace [--dump-state]] [--real-keys] [--validators n]
 * [--traders equivocate,split,late,flood,bond-flip|none] [--legacy-intake]`: runs the deterministic consensus
 * simulation over N seeds and prints a summary; a failing seed prints its violations and trace tail, and
 * `--seed S` replays it exactly. Exit code 1 when any invariant broke.
 */
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const flag = (name: string) => process.argv.includes(`--${name}`)

const single = arg('seed')
const from = Number(arg('from') ?? single ?? 1)
const count = single !== undefined ? 1 : Number(arg('seeds') ?? 100)
const realKeys = flag('real-keys')
const trace = flag('trace')
const validators = arg('validators') ? Number(arg('validators')) : undefined
const tradersArg = arg('traders')
const hostileTraders =
  tradersArg === undefined
    ? undefined
    : tradersArg === 'none'
      ? []
      : (tradersArg.split(',') as TraderBehaviour[])
const legacyIntake = flag('legacy-intake')

const started = performance.now()
const failures: SimResult[] = []
const totals = {
  delivered: 0,
  dropped: 0,
  crashes: 0,
  partitions: 0,
  equivocations: 0,
  rejected: 0,
  orders: 0,
}
let heights = 0
let maxRound = 0
const bySize = new Map<number, number>()
const byBehaviour = new Map<string, number>()
for (let s = from; s < from + count; s++) {
  const r = runSimulation({
    seed: s,
    realKeys,
    trace,
    validators,
    dumpState: flag('dump-state'),
    hostileTraders,
    legacyIntake,
  })
  if (!r.ok) failures.push(r)
  totals.delivered += r.stats.delivered
  totals.dropped += r.stats.dropped
  totals.crashes += r.stats.crashes
  totals.partitions += r.stats.partitions
  totals.equivocations += r.stats.equivocationsDetected
  totals.rejected += r.stats.rejectedProposals
  totals.orders += r.stats.decidedOrders
  heights += Math.min(...r.heights) - 1
  maxRound = Math.max(maxRound, r.stats.maxRound)
  bySize.set(r.validators, (bySize.get(r.validators) ?? 0) + 1)
  for (const b of r.byzantine) byBehaviour.set(b.behaviour, (byBehaviour.get(b.behaviour) ?? 0) + 1)
  if (single !== undefined) {
    console.log(
      JSON.stringify({ ...r, trace: undefined }, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2),
    )
    if (trace || !r.ok) console.log(r.trace.join('\n'))
  } else if ((s - from + 1) % 500 === 0) {
    console.error(`… ${s - from + 1}/${count} seeds, ${failures.length} failing`)
  }
}
const secs = (performance.now() - started) / 1000
console.log(
  `seeds ${from}..${from + count - 1}: ${count - failures.length} passed, ${failures.length} failed, ${secs.toFixed(1)} s`,
)
console.log(`validator counts: ${[...bySize].map(([k, v]) => `n=${k}: ${v}`).join(', ')}`)
console.log(`byzantine validators: ${[...byBehaviour].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'}`)
console.log(
  `heights decided (min over validators, summed): ${heights}; orders decided: ${totals.orders}; highest round: ${maxRound}`,
)
console.log(
  `messages delivered ${totals.delivered}, dropped ${totals.dropped}; crash-restarts ${totals.crashes}; partitions ${totals.partitions}; equivocations detected ${totals.equivocations}; proposals refused ${totals.rejected}`,
)
for (const f of failures.slice(0, 10)) {
  console.log(`\nFAIL seed ${f.seed} (n=${f.validators}, byzantine ${JSON.stringify(f.byzantine)}):`)
  for (const v of f.violations) console.log(`  ${v}`)
  console.log(`  replay: pnpm sim --seed ${f.seed}${realKeys ? ' --real-keys' : ''} --trace`)
}
process.exit(failures.length > 0 ? 1 : 0)
