import { AllotError, type Height } from '@allot/protocol'

/**
 * Which batch takes orders now. DESIGN.md "Sealing": a node refuses orders for a batch whose
 * proposal time is closer than `intakeCutoffMs` (ORDER_TARGET_CLOSED); clients target the first
 * open batch. Consensus may later drive this from decided heights instead of the clock.
 */
export interface BatchSchedule {
  /** When batch h is proposed (ms since the epoch). */
  proposalTime(h: Height): number
  /** The first batch still open for intake at `now`. */
  openBatch(now?: number): Height
  /** The height the network works on (the next batch to be proposed). */
  currentHeight(now?: number): Height
  /** Throws ORDER_TARGET_CLOSED (too late) or ORDER_BAD_BATCH (too far ahead) for a batch not open now. */
  checkOpen(h: Height, now?: number): void
}

export interface GenesisClockOptions {
  genesisTime: number
  batchIntervalMs: number
  intakeCutoffMs: number
  /** Orders may target at most this many batches past the open one. */
  maxBatchesAhead?: number
  now?: () => number
}

/** Batch h is proposed at genesisTime + h·batchIntervalMs (heights start at 1). */
export class GenesisClockSchedule implements BatchSchedule {
  private readonly now: () => number
  private readonly ahead: bigint

  constructor(private readonly o: GenesisClockOptions) {
    this.now = o.now ?? Date.now
    this.ahead = BigInt(o.maxBatchesAhead ?? 64)
  }

  proposalTime(h: Height): number {
    return this.o.genesisTime + Number(h) * this.o.batchIntervalMs
  }

  openBatch(now = this.now()): Height {
    const h = Math.floor((now + this.o.intakeCutoffMs - this.o.genesisTime) / this.o.batchIntervalMs) + 1
    return BigInt(Math.max(1, h))
  }

  currentHeight(now = this.now()): Height {
    const h = Math.floor((now - this.o.genesisTime) / this.o.batchIntervalMs) + 1
    return BigInt(Math.max(1, h))
  }

  checkOpen(h: Height, now = this.now()): void {
    const open = this.openBatch(now)
    if (h < open)
      throw new AllotError('ORDER_TARGET_CLOSED', `batch ${h} is closed for intake; first open is ${open}`)
    if (h > open + this.ahead)
      throw new AllotError('ORDER_BAD_BATCH', `batch ${h} is more than ${this.ahead} ahead of ${open}`)
  }
}
