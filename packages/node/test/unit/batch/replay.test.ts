// Issue 20: a batch's result is a pure function of decided data. One decided chain of 200 heights
// (crossing, resting, partial, fill-or-kill, unfundable, resource and mis-sealed orders; deposits,
// withdrawals and invalidations on the chain) goes to a calm reference pipeline and, per seed, to one whose
// certificates arrive early, late and shuffled, whose shares and envelopes are missing at first attempts,
// and — every other seed — which crashes and restarts at random points. Both must attest and finalize the
// same result at every height and end with the same remainders and statuses. A chain serves four seeds.
// The seeds of this file and of replay-more.test.ts; more: scripts/replay-seeds.sh.
import { beforeAll, describe, expect, it } from 'vitest'
import { replaySeeds, type SeedOutcome } from './replay-harness.js'

const FIRST_SEED = Number(process.env.REPLAY_FIRST_SEED ?? 1)
const SEEDS = Number(process.env.REPLAY_SEEDS ?? 100)
const HEIGHTS = 200
let first: SeedOutcome

beforeAll(async () => {
  ;[first] = await replaySeeds(FIRST_SEED | 1, 1)
}, 120_000)

describe('differential replay: every pipeline computes the same result at every height', () => {
  it('the chain is not trivial: orders fill, rest, are dropped and rejected; the replica crashes', () => {
    const { ref, run, diff } = first
    expect(diff).toEqual([])
    expect(ref.finalized.size).toBe(HEIGHTS)
    for (const code of ['filled', 'resting', 'partially_filled', 'unfilled', 'rejected', 'cancelled'])
      expect(ref.statuses, code).toContain(` ${code} `)
    expect(ref.statuses).toContain('ORDER_INSUFFICIENT_BALANCE')
    expect(ref.statuses).toContain('ORDER_BAD_BATCH')
    expect(ref.statuses).toContain('BATCH_VOIDED')
    expect(run.crashes).toBeGreaterThan(0)
  })

  it(`${SEEDS} seeds: shuffled certificates and shares, crashes and restarts`, async () => {
    const outcomes = await replaySeeds(FIRST_SEED, SEEDS)
    const failures = outcomes
      .filter((o) => o.diff.length > 0)
      .map((o) => `seed ${o.seed}: ${o.diff.slice(0, 3).join('; ')}`)
    expect(failures).toEqual([])
    expect(outcomes.reduce((n, o) => n + o.run.crashes, 0)).toBeGreaterThan(SEEDS)
  }, 900_000)
})
