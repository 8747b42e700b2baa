// The second hundred seeds of the differential replay (replay.test.ts), in a file of its own so the two
// hundreds run on two cores.
import { expect, it } from 'vitest'
import { replaySeeds } from './replay-harness.js'

const FIRST_SEED = Number(process.env.REPLAY_FIRST_SEED ?? 1) + Number(process.env.REPLAY_SEEDS ?? 100)
const SEEDS = Number(process.env.REPLAY_SEEDS ?? 100)

it(`differential replay, ${SEEDS} more seeds: every pipeline computes the same result at every height`, async () => {
  const outcomes = await replaySeeds(FIRST_SEED, SEEDS)
  const failures = outcomes
    .filter((o) => o.diff.length > 0)
    .map((o) => `seed ${o.seed}: ${o.diff.slice(0, 3).join('; ')}`)
  expect(failures).toEqual([])
  expect(outcomes.reduce((n, o) => n + o.run.crashes, 0)).toBeGreaterThan(SEEDS)
}, 900_000)
