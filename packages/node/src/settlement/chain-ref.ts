import type { Logger } from 'pino'
import type { SettlementMetrics } from '../metrics/index.js'

export interface ChainRefPollerOptions {
  /** The confirmed block batches read state at (head − confirmations): `ChainBalanceReader.chainRef`. */
  read: () => Promise<bigint>
  /** The chain head, for `allot_settlement_blocks_behind`; without it the gauge is not set. */
  head?: () => Promise<bigint>
  /** Refresh period (run.ts: half a batch interval, at least 200 ms). */
  everyMs: number
  logger?: Logger
  metrics?: Pick<SettlementMetrics, 'blocksBehind'>
}

/**
 * A validator's confirmed chain view (chainRef): what its proposals carry and the bound it judges
 * proposals by (a proposal beyond it is refused). Read once at start, then refreshed on a timer and on
 * demand (`refresh`: a proposal was ahead of us); it only moves forward. `stop` ends the timer and waits
 * for the read under way.
 */
export class ChainRefPoller {
  private ref = 0n
  private timer: NodeJS.Timeout | undefined
  private inflight: Promise<void> | undefined
  private running = false

  constructor(private readonly o: ChainRefPollerOptions) {}

  get chainRef(): bigint {
    return this.ref
  }

  async start(): Promise<void> {
    this.ref = await this.o.read()
    this.running = true
    this.timer = setInterval(() => this.refresh(), this.o.everyMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    this.running = false
    clearInterval(this.timer)
    this.timer = undefined
    await this.inflight
  }

  /** Reads the chain again (one read at a time); a failed read keeps the view it had. */
  refresh(): void {
    if (!this.running || this.inflight) return
    this.inflight = (async () => {
      try {
        const [r, head] = await Promise.all([this.o.read(), this.o.head?.()])
        if (r > this.ref) this.ref = r
        if (head !== undefined)
          this.o.metrics?.blocksBehind.set(Number(head > this.ref ? head - this.ref : 0n))
      } catch (err) {
        this.o.logger?.debug({ err }, 'chain view refresh failed')
      } finally {
        this.inflight = undefined
      }
    })()
  }
}
