// Issue 24: an order fetch takes only what was asked. Fetched orders skip the intake cut-off (a proposal
// names them), so an answer carrying other orders would plant them in some mempools only.
import { keccak256Hex } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { onlyAsked } from '../../../src/api/sync.js'

describe('onlyAsked', () => {
  it('keeps the envelopes whose id was asked for, each once, and drops everything else', () => {
    const [a, b, c] = [1, 2, 3].map((i) => new Uint8Array([i, i, i]))
    const asked = new Set([keccak256Hex(a), keccak256Hex(b)])
    expect(onlyAsked(asked, [c, a, b, a])).toEqual([a, b])
    expect(onlyAsked(asked, [c])).toEqual([])
  })
})
