/**
 * Token buckets per client (remote address): each holds up to `burst` tokens, refilled at `perSecond`;
 * a request takes one or is refused (429, `API_RATE_LIMITED`). Pure over an injected clock.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(
    private readonly o: { perSecond: number; burst: number; idleMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a token for `client`: true if it had one. */
  take(client: string): boolean {
    const t = this.now()
    const b = this.buckets.get(client) ?? { tokens: this.o.burst, at: t }
    b.tokens = Math.min(this.o.burst, b.tokens + ((t - b.at) * this.o.perSecond) / 1000)
    b.at = t
    this.buckets.set(client, b)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  /** Forgets clients idle for `idleMs` (their buckets would be full again anyway). */
  sweep(): void {
    const t = this.now()
    for (const [k, b] of this.buckets) if (t - b.at > this.o.idleMs) this.buckets.delete(k)
  }

  get clients(): number {
    return this.buckets.size
  }
}
