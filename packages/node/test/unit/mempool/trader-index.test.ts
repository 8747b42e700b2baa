import type { Address, Hex } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { TraderIndex } from '../../../src/mempool/trader-index.js'

const alice = `0x${'a1'.repeat(20)}` as Address
const bob = `0x${'b2'.repeat(20)}` as Address
const id = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as Hex

describe('TraderIndex', () => {
  it('answers nonce owners and per-batch counts per trader', () => {
    const t = new TraderIndex()
    t.add(alice, 1n, 10n, id(1))
    t.add(alice, 2n, 10n, id(2))
    t.add(alice, 3n, 11n, id(3))
    t.add(bob, 1n, 10n, id(4))
    expect(t.nonceOwner(alice, 1n)).toBe(id(1))
    expect(t.nonceOwner(bob, 1n)).toBe(id(4))
    expect(t.nonceOwner(bob, 2n)).toBeUndefined()
    expect(t.count(alice, 10n)).toBe(2)
    expect(t.count(alice, 11n)).toBe(1)
    expect(t.count(bob, 10n)).toBe(1)
    expect(t.count(bob, 11n)).toBe(0)
    // nonces and batches past 2^53 stay distinct, and apart from the exact ones below
    const big = 1n << 53n
    t.add(bob, big + 1n, 12n, id(5))
    t.add(bob, big - 1n, big + 1n, id(6))
    expect(t.nonceOwner(bob, big)).toBeUndefined()
    expect(t.nonceOwner(bob, big + 1n)).toBe(id(5))
    expect(t.nonceOwner(bob, big - 1n)).toBe(id(6))
    expect(t.nonceOwner(bob, (1n << 64n) - 1n)).toBeUndefined()
    expect(t.count(bob, big + 1n)).toBe(1)
    expect(t.count(bob, big)).toBe(0)
    t.remove(bob, big + 1n, 12n, id(5))
    expect(t.nonceOwner(bob, big + 1n)).toBeUndefined()
  })

  it('remove undoes add, freeing a nonce only for the order that holds it', () => {
    const t = new TraderIndex()
    t.add(alice, 1n, 10n, id(1))
    t.add(alice, 1n, 10n, id(2)) // a later holder of the same nonce (e.g. a reload) wins
    t.remove(alice, 1n, 10n, id(1))
    expect(t.nonceOwner(alice, 1n)).toBe(id(2))
    expect(t.count(alice, 10n)).toBe(1)
    t.remove(alice, 1n, 10n, id(2))
    expect(t.nonceOwner(alice, 1n)).toBeUndefined()
    expect(t.count(alice, 10n)).toBe(0)
    // removing what is not there changes nothing and does not go negative
    t.remove(alice, 1n, 10n, id(2))
    t.remove(bob, 1n, 10n, id(3))
    expect(t.count(alice, 10n)).toBe(0)
    t.add(alice, 4n, 10n, id(4))
    expect(t.count(alice, 10n)).toBe(1)
  })
})
