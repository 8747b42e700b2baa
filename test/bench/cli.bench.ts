/**
 * `pnpm bench cli`: the `allot` command as a user runs it — the compiled CLI through its bin, a whole
 * process each time — beside the floor, `node -e 0` (a Node start and nothing else). Goals (issue 21):
 *   - `allot --help` ≤ 2 × the floor (no command's code loads for the help);
 *   - `allot solve` on a small real batch (packages/solver/testdata, 243 orders) ≤ 0.5 s;
 *   - `allot order submit` to a running 4-validator devnet ≤ 0.8 s at the median.
 * Each figure is the median of ALLOT_BENCH_RUNS runs (default 15; 9 for submit). ALLOT_BENCH_DEVNET=0
 * leaves the devnet out (it takes 20–40 s to come up); ALLOT_BENCH_DEVNET_DIR=<dir> uses the devnet
 * running there instead of starting one.
 */
import '@allot/protocol/polyfill'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { devnetDown, devnetUp, readDevnet } from '../../packages/node/src/devnet/index.js'
import { fmt } from '../../scripts/measure.js'

const ROOT = join(import.meta.dirname, '..', '..')
const BIN = join(ROOT, 'packages', 'node', 'bin', 'allot.mjs')
const RUNS = Number(process.env.ALLOT_BENCH_RUNS ?? 15)
const BATCH = join(ROOT, 'packages', 'solver', 'testdata', 'gp-v1', 'batch-d.json')

// The bench measures the compiled CLI the bin runs: bring dist/ and the bundle up to date first.
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const built = spawnSync(process.execPath, [tsc, '-b', 'packages/node/tsconfig.build.json'], {
  cwd: ROOT,
  stdio: 'inherit',
})
if (built.status !== 0) throw new Error('tsc -b failed')
const bundled = spawnSync(process.execPath, [join(ROOT, 'packages', 'node', 'scripts', 'bundle-cli.mjs')], {
  stdio: 'inherit',
})
if (bundled.status !== 0) throw new Error('bundle-cli.mjs failed')

/** Wall time of one whole process, in ms; it must exit 0. */
function timeRun(args: string[]): number {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  const ms = performance.now() - t0
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return ms
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/** Runs `f` n times (after one warm-up that fills the file cache) and returns the median. */
function medianOf(n: number, f: () => number): number {
  f()
  return median(Array.from({ length: n }, f))
}

/** A figure beside its goal, and as a multiple of the floor (what a loaded machine leaves comparable). */
function report(label: string, ms: number, goalLabel: string, goal: number): void {
  console.log(
    `${label.padEnd(46)} ${fmt(ms).padStart(8)} ms = ${fmt(ms / floor, 1)} × floor   (goal: ${goalLabel} ${fmt(goal)} ms; ${fmt((ms / goal) * 100, 0)}% of it — ${ms <= goal ? 'met' : 'NOT met'})`,
  )
}

const floor = medianOf(RUNS, () => timeRun(['-e', '0']))
console.log(`${'floor: node -e 0'.padEnd(46)} ${fmt(floor).padStart(8)} ms`)
report(
  'allot --help',
  medianOf(RUNS, () => timeRun([BIN, '--help'])),
  '2 × floor',
  2 * floor,
)
report(
  'allot solve --in batch-d.json (243 orders)',
  medianOf(RUNS, () => timeRun([BIN, 'solve', '--in', BATCH, '--json'])),
  '',
  500,
)

if (process.env.ALLOT_BENCH_DEVNET !== '0') {
  const running = process.env.ALLOT_BENCH_DEVNET_DIR
  const dir = running ?? mkdtempSync(join(tmpdir(), 'allot-bench-cli-'))
  try {
    const d = running
      ? readDevnet(running)
      : await devnetUp({ dir, validators: 4, batchMs: 1000, accounts: 1, chain: 'anvil', reset: false })
    // --no-retry: the command returns at the node's acknowledgement (the goal's measure); without it,
    // `order submit` follows the order until its batch is decided (docs/cli.md), a batch interval more.
    const submit =
      (...extra: string[]) =>
      () =>
        timeRun([
          BIN,
          'order',
          'submit',
          '--node',
          d.nodes[0].api,
          '--key',
          d.accounts[0].privateKey,
          '--sell',
          'TKA:1000',
          '--buy',
          'TKB:900',
          '--json',
          ...extra,
        ])
    report(
      'allot order submit --no-retry (4-validator devnet)',
      medianOf(Math.min(RUNS, 9), submit('--no-retry')),
      '',
      800,
    )
    const decided = medianOf(Math.min(RUNS, 9), submit())
    console.log(
      `${'allot order submit, until its batch is decided'.padEnd(46)} ${fmt(decided).padStart(8)} ms   (no goal: it waits for the batch)`,
    )
  } finally {
    if (!running) {
      await devnetDown(dir, true)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
