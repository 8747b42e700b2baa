/**
 * `pnpm bench`: runs every benchmark script (packages/<pkg>/bench/*.bench.ts, then test/bench/*.bench.ts),
 * each in its own process so one's heap and JIT state do not colour another's figures.
 * Each prints its figures beside the ceiling it is measured against, from the same run.
 * `pnpm bench <filter>` runs only the scripts whose path contains <filter>.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const dirs = [
  'packages/protocol/bench',
  'packages/solver/bench',
  'packages/backtest/bench',
  'packages/node/bench',
  'test/bench',
]
const filter = process.argv[2]
const scripts = dirs
  .filter((d) => existsSync(join(root, d)))
  .flatMap((d) =>
    readdirSync(join(root, d))
      .filter((f) => f.endsWith('.bench.ts'))
      .map((f) => join(d, f)),
  )
  .filter((s) => !filter || s.includes(filter))

console.log(
  `# allot benchmarks — ${new Date().toISOString()} — ${cpus()[0]?.model ?? 'cpu'} ×${cpus().length}, node ${process.version}`,
)
let failed = 0
for (const s of scripts) {
  console.log(`\n## ${s}`)
  const r = spawnSync(process.execPath, ['--conditions=allot-source', '--import', 'tsx', join(root, s)], {
    stdio: 'inherit',
    cwd: root,
  })
  if (r.status !== 0) {
    failed++
    console.log(`!! ${s} exited with ${r.status}`)
  }
}
process.exit(failed ? 1 : 0)
