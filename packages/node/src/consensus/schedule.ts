import { AllotError, type Height } from '@allot/protocol'
import type { BatchSchedule } from '../mempool/index.js'

/** Where consensus stands: the height it works on and the timestamp of the batch decided before it. */
export interface ConsensusPosition {
  height: bigint
  /** ms since the epoch of the last decided batch (genesisTime before the first). */
  parentTimestamp: number
}

/**
 * The batch schedule as consensus drives it. A proposer proposes height h no earlier than its parent's
 * timestamp plus `batchIntervalMs` (the batch cadence), so while consensus works on height H, batch
 * h ≥ H is proposed at the earliest at parentTimestamp + (h − H + 1)·batchIntervalMs. Intake closes
 * `intakeCutoffMs` before that (DESIGN.md "Sealing": ORDER_TARGET_CLOSED). Unlike a wall clock, this never
 * runs ahead of agreement: when batches take longer than the interval, heights wait for consensus
 * instead of expiring orders for heights it has not reached.
 */
export class ConsensusSchedule implements BatchSchedule {
  private position: (() => ConsensusPosition) | undefined
  private readonly ahead: bigint
  private readonly now: () => number

  constructor(
    private readonly o: {
      genesisTime: number
      batchIntervalMs: number
      intakeCutoffMs: number
      maxBatchesAhead?: number
      now?: () => number
    },
  ) {
    this.ahead = BigInt(o.maxBatchesAhead ?? 64)
    this.now = o.now ?? Date.now
  }

  /** Consensus binds itself once started; until then the schedule stands at height 1 after genesis. */
  bind(position: () => ConsensusPosition): void {
    this.position = position
  }

  private where(): ConsensusPosition {
    return this.position?.() ?? { height: 1n, parentTimestamp: this.o.genesisTime }
  }

  proposalTime(h: Height): number {
    const p = this.where()
    if (h < p.height) return p.parentTimestamp
    return p.parentTimestamp + Number(h - p.height + 1n) * this.o.batchIntervalMs
  }

  openBatch(now = this.now()): Height {
    const p = this.where()
    // The first h ≥ H whose proposal time minus the cut-off is still ahead of now — but never beyond H + 1:
    // H + 1 cannot be proposed before H is decided, which has not happened yet. Without that cap a height
    // that takes several rounds (a stale parent timestamp: validators down, restarting) moved the open batch
    // ahead by one per interval, so intake refused, and the mempool pruned, orders for heights consensus
    // had not reached (found by packages/node/bench/agreement.bench.ts: preloaded orders vanished).
    const late = now + this.o.intakeCutoffMs - p.parentTimestamp
    const steps = late < this.o.batchIntervalMs ? 0 : Math.floor(late / this.o.batchIntervalMs)
    return p.height + BigInt(Math.min(steps, 1))
  }

  currentHeight(): Height {
    return this.where().height
  }

  checkOpen(h: Height, now = this.now()): void {
    const open = this.openBatch(now)
    if (h < open)
      throw new AllotError('ORDER_TARGET_CLOSED', `batch ${h} is closed for intake; first open is ${open}`)
    if (h > open + this.ahead) {
      throw new AllotError('ORDER_BAD_BATCH', `batch ${h} is more than ${this.ahead} ahead of ${open}`)
    }
  }
}
