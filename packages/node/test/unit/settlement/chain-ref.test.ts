import { describe, expect, it, vi } from 'vitest'
import { createRegistry, createSettlementMetrics } from '../../../src/metrics/index.js'
import { ChainRefPoller } from '../../../src/settlement/chain-ref.js'

/** A chain whose confirmed block and head the test moves by hand. */
function fakeChain() {
  const chain = { ref: 5n, head: 8n, reads: 0 }
  return {
    chain,
    read: async () => {
      chain.reads++
      return chain.ref
    },
    head: async () => chain.head,
  }
}

const settle = () => new Promise((r) => setImmediate(r))

describe('ChainRefPoller', () => {
  it('reads at start, refreshes on its timer, only moves forward, and sets blocks behind', async () => {
    vi.useFakeTimers()
    try {
      const f = fakeChain()
      const metrics = createSettlementMetrics(createRegistry(false))
      const p = new ChainRefPoller({ read: f.read, head: f.head, everyMs: 200, metrics })
      await p.start()
      expect(p.chainRef).toBe(5n)
      f.chain.ref = 7n
      await vi.advanceTimersByTimeAsync(200)
      expect(p.chainRef).toBe(7n)
      expect((await metrics.blocksBehind.get()).values[0].value).toBe(1)
      // A lagging answer (another RPC node) never moves the view back.
      f.chain.ref = 6n
      await vi.advanceTimersByTimeAsync(200)
      expect(p.chainRef).toBe(7n)
      await p.stop()
      const reads = f.chain.reads
      await vi.advanceTimersByTimeAsync(2_000)
      expect(f.chain.reads).toBe(reads)
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it('refresh on demand reads once at a time, and not after stop', async () => {
    const f = fakeChain()
    const p = new ChainRefPoller({ read: f.read, everyMs: 60_000 })
    await p.start()
    f.chain.ref = 9n
    p.refresh()
    p.refresh()
    await settle()
    expect(p.chainRef).toBe(9n)
    expect(f.chain.reads).toBe(2)
    await p.stop()
    p.refresh()
    await settle()
    expect(f.chain.reads).toBe(2)
  })
})
