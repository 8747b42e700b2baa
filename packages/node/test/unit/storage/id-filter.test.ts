import { keccak256, toHex } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { IdFilter } from '../../../src/storage/index.js'

/** Order-id-like hex: keccak256 of a counter, as ids are keccak256 of an envelope. */
const id = (i: number, salt = 0) => toHex(keccak256(new Uint8Array([salt, i >> 16, i >> 8, i])))

describe('IdFilter', () => {
  it('never forgets an id, and rules out others at about its design rate when full', () => {
    const f = new IdFilter(16) // capacity 4,096 ids
    const n = f.capacity
    for (let i = 0; i < n; i++) f.add(id(i))
    expect(f.added).toBe(n)
    for (let i = 0; i < n; i++) expect(f.mayContain(id(i))).toBe(true)
    let maybes = 0
    const others = 50_000
    for (let i = 0; i < others; i++) if (f.mayContain(id(i, 1))) maybes++
    // 16 bits and 7 probes per id: ≈ 0.07 % false positives; a broken probe would show percents
    expect(maybes / others).toBeLessThan(0.005)
  })

  it('reads an id with or without 0x, in either case; anything else is a "maybe"', () => {
    const f = new IdFilter(16)
    const a = id(1)
    f.add(a.slice(2)) // as level keys hold it
    expect(f.mayContain(a)).toBe(true)
    expect(f.mayContain(`0x${a.slice(2).toUpperCase()}`)).toBe(true)
    expect(f.mayContain(id(2))).toBe(false)
    expect(new IdFilter(16).mayContain('0x1234')).toBe(true)
    const g = new IdFilter(16)
    g.add('not an id')
    expect(g.added).toBe(0)
  })

  it('is sized for its load, within bounds', () => {
    expect(IdFilter.sizedFor(0).log2Bits).toBe(24)
    expect(IdFilter.sizedFor(0, 16).log2Bits).toBe(16)
    expect(IdFilter.sizedFor(5_000, 16).capacity).toBeGreaterThanOrEqual(5_000)
    expect(IdFilter.sizedFor(3_000_000).capacity).toBeGreaterThanOrEqual(3_000_000)
    expect(IdFilter.sizedFor(1e12).log2Bits).toBe(32)
    expect(() => new IdFilter(15)).toThrow(RangeError)
    expect(() => new IdFilter(33)).toThrow(RangeError)
  })
})
