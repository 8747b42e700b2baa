import { describe, expect, it } from 'vitest'
import { ConsensusSchedule } from '../../../src/consensus/schedule.js'

const I = 1000
const CUTOFF = 200

function at(height: bigint, parentTimestamp: number, now: number) {
  const s = new ConsensusSchedule({
    genesisTime: 0,
    batchIntervalMs: I,
    intakeCutoffMs: CUTOFF,
    now: () => now,
  })
  s.bind(() => ({ height, parentTimestamp }))
  return s
}

describe('ConsensusSchedule', () => {
  it('keeps the height consensus works on open until its cadence time minus the cut-off', () => {
    expect(at(10n, 50_000, 50_000).openBatch()).toBe(10n)
    expect(at(10n, 50_000, 50_000 + I - CUTOFF - 1).openBatch()).toBe(10n)
    // Past H's cut-off: H may be proposed any moment; H + 1 is the first open one.
    expect(at(10n, 50_000, 50_000 + I - CUTOFF).openBatch()).toBe(11n)
    expect(() => at(10n, 50_000, 50_000 + I).checkOpen(10n)).toThrow(/ORDER_TARGET_CLOSED|closed/)
    expect(() => at(10n, 50_000, 50_000 + I).checkOpen(11n)).not.toThrow()
  })

  it('never runs ahead of agreement: a slow height closes at most the next one, whatever the clock says', () => {
    // Height 10 has been undecided for 30 intervals (2 of 4 validators down, a restart...). Heights above 11
    // cannot be proposed before 10 and 11 are decided: they stay open, and the mempool keeps their orders.
    const s = at(10n, 50_000, 50_000 + 30 * I)
    expect(s.openBatch()).toBe(11n)
    expect(() => s.checkOpen(11n)).not.toThrow()
    expect(() => s.checkOpen(12n)).not.toThrow()
    expect(() => s.checkOpen(20n)).not.toThrow()
    expect(() => s.checkOpen(9n)).toThrow(/closed/)
    // The window ahead is counted from there.
    expect(() => s.checkOpen(11n + 64n)).not.toThrow()
    expect(() => s.checkOpen(11n + 65n)).toThrow(/ahead/)
  })

  it('stands at height 1 after genesis until consensus binds it', () => {
    const s = new ConsensusSchedule({
      genesisTime: 1_000,
      batchIntervalMs: I,
      intakeCutoffMs: CUTOFF,
      now: () => 1_000,
    })
    expect(s.currentHeight()).toBe(1n)
    expect(s.openBatch()).toBe(1n)
    expect(s.proposalTime(3n)).toBe(1_000 + 3 * I)
  })
})
