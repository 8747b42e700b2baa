// Issue 22, item 5: sealing and the DKG stop for real. A stopped sealing service releases and publishes
// no share (it used to have an empty stop). A node that is not a validator follows the DKG on its own clock
// from `start()`; `stop()` ends that clock at once (it used to run until it saw the host stopped).
import { describe, expect, it, vi } from 'vitest'
import { createRegistry, createSealingMetrics } from '../../../src/metrics/index.js'
import { EpochDkg } from '../../../src/sealing/dkg.js'
import { memorySealingStore, SealingService } from '../../../src/sealing/service.js'
import { domain, first, schedule, sortedKeys, validators } from './dkg-net.js'

describe('EpochDkg start/stop', () => {
  it("an observer's clock runs from start to stop, and nothing of it is left after", async () => {
    vi.useFakeTimers()
    try {
      const svc = new SealingService({ domain, validators, store: memorySealingStore() })
      await svc.start()
      await svc.addEpoch({ public: first.public, shares: null })
      let height = 1n
      const seen: bigint[] = []
      const metrics = createSealingMetrics(createRegistry(false))
      const dkg = new EpochDkg({
        domain,
        validators,
        schedule,
        service: svc,
        metrics,
        observerClock: { currentHeight: () => height, everyMs: 100 },
        transport: {
          peerId: () => 'observer',
          broadcast: async () => {},
          requestShares: async () => [],
          fetchRefs: async () => [],
        },
      })
      const onHeight = dkg.onHeight.bind(dkg)
      dkg.onHeight = (h, refs) => {
        seen.push(h)
        return onHeight(h, refs)
      }
      expect(vi.getTimerCount()).toBe(0)
      await dkg.start()
      for (let k = 0; k < 3; k++) {
        height++
        await vi.advanceTimersByTimeAsync(100)
      }
      expect(seen).toEqual([1n, 2n, 3n])
      // The stage is exported after each step: exactly one stage is 1, the one of the newest session.
      const stages = (await metrics.dkgStage.get()).values
      expect(stages.filter((v) => v.value === 1).map((v) => v.labels.stage)).toEqual([dkg.stage()])
      await dkg.stop()
      expect(vi.getTimerCount()).toBe(0)
      height += 10n
      await vi.advanceTimersByTimeAsync(1_000)
      expect(seen).toEqual([1n, 2n, 3n])
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('SealingService start/stop', () => {
  it('releases and publishes shares while running, none after stop', async () => {
    const published: bigint[] = []
    const svc = new SealingService({
      domain,
      validators,
      store: memorySealingStore(),
      validatorKey: sortedKeys[0],
      publishShare: async (ks) => {
        published.push(ks.height)
      },
    })
    await svc.start()
    await svc.addEpoch({ public: first.public, shares: first.shares[0] })
    expect((await svc.onDecided(1n))?.height).toBe(1n)
    await svc.stop()
    expect(await svc.onDecided(2n)).toBeUndefined()
    expect(published).toEqual([1n])
  })
})
