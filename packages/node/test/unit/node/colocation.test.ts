// Issue 24: IP co-location scoring was off by default everywhere. It is off by default only for a node
// that listens on loopback alone (tests, one-machine devnets); anything reachable from elsewhere scores it.
import { describe, expect, it } from 'vitest'
import { loopbackOnly } from '../../../src/node.js'

describe('co-location scoring default', () => {
  it('is waived only when every listen address is loopback', () => {
    expect(loopbackOnly(['/ip4/127.0.0.1/tcp/0'])).toBe(true)
    expect(loopbackOnly(['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4001'])).toBe(true)
    expect(loopbackOnly(['/ip4/127.12.0.9/tcp/1'])).toBe(true)
    expect(loopbackOnly(['/ip4/0.0.0.0/tcp/4001'])).toBe(false)
    expect(loopbackOnly(['/ip4/127.0.0.1/tcp/4001', '/ip4/10.0.0.5/tcp/4001'])).toBe(false)
    expect(loopbackOnly(['/ip4/1270.0.0.1/tcp/1'])).toBe(false)
    expect(loopbackOnly([])).toBe(false)
  })
})
