import { describe, expect, it } from 'vitest'
import { httpStatusOf, RateLimiter } from '../../../src/gateway/index.js'

describe('gateway RateLimiter', () => {
  it('lets a burst through, then the rate, per client, and forgets idle clients', () => {
    let now = 0
    const r = new RateLimiter({ perSecond: 10, burst: 5, idleMs: 1000 }, () => now)
    expect(Array.from({ length: 7 }, () => r.take('a'))).toEqual([true, true, true, true, true, false, false])
    expect(r.take('b')).toBe(true) // another client has its own bucket
    now += 100 // one token back at 10/s
    expect([r.take('a'), r.take('a')]).toEqual([true, false])
    now += 10_000 // refilled to the burst, not beyond
    expect(Array.from({ length: 6 }, () => r.take('a')).filter(Boolean).length).toBe(5)
    now += 2_000
    r.sweep()
    expect(r.clients).toBe(0)
  })

  it('maps codes to HTTP statuses', () => {
    expect(
      ['WIRE_TOO_LARGE', 'API_RATE_LIMITED', 'ORDER_NOT_FOUND', 'WIRE_MALFORMED', 'API_INTERNAL'].map(
        httpStatusOf,
      ),
    ).toEqual([413, 429, 404, 400, 500])
  })
})
