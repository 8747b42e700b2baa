import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  keccak256,
  keccak256Hex,
  keccak256Into,
  keccak256Reference,
  toHex,
  toHexReference,
  uninitializedBytes,
} from '../../src/index.js'

describe('keccak256 (our WebAssembly module) against noble', () => {
  it('hashes the empty input to the known digest', () => {
    expect(keccak256Hex(new Uint8Array())).toBe(
      '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
    )
  })

  it('gives noble’s digest for every length around the 136-byte block boundaries', () => {
    for (let n = 0; n <= 3 * 136 + 2; n++) {
      const data = new Uint8Array(n).map((_, i) => (i * 131 + n) & 0xff)
      expect(toHex(keccak256(data)), `length ${n}`).toBe(toHex(keccak256Reference(data)))
    }
  })

  it('gives noble’s digest on random inputs, views into larger buffers included', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.nat(64), (bytes, skip) => {
        const view = bytes.subarray(Math.min(skip, bytes.length))
        expect(toHex(keccak256(view))).toBe(toHex(keccak256Reference(view)))
      }),
      { seed: 7, numRuns: 300 },
    )
  })

  it('gives noble’s digest past one call’s input chunk (54,400 bytes) and at its edges', () => {
    const chunk = 136 * 400
    for (const n of [chunk - 1, chunk, chunk + 1, chunk + 135, 2 * chunk + 136, 200_001]) {
      const data = new Uint8Array(n).map((_, i) => (i * 31 + (i >> 8)) & 0xff)
      expect(toHex(keccak256(data)), `length ${n}`).toBe(toHex(keccak256Reference(data)))
    }
  })

  it('keccak256Into writes the digest at the offset and nothing else', () => {
    const out = new Uint8Array(70).fill(0xee)
    const data = new Uint8Array(300).map((_, i) => i & 0xff)
    keccak256Into(data, out, 19)
    expect(toHex(out.subarray(19, 51))).toBe(toHex(keccak256Reference(data)))
    expect([...out.subarray(0, 19), ...out.subarray(51)].every((b) => b === 0xee)).toBe(true)
  })

  it('returns a fresh array each call (callers may keep or mutate digests)', () => {
    const a = keccak256(new Uint8Array([1]))
    const b = keccak256(new Uint8Array([2]))
    a[0] ^= 0xff
    expect(toHex(b)).toBe(toHex(keccak256Reference(new Uint8Array([2]))))
    expect(toHex(keccak256(new Uint8Array([1])))).toBe(toHex(keccak256Reference(new Uint8Array([1]))))
  })
})

describe('toHex against noble', () => {
  it('gives the same string for every length up to past its scratch buffer, views included', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(8), (bytes, skip) => {
        const view = bytes.subarray(Math.min(skip, bytes.length))
        const a = toHex(view)
        const b = toHex(bytes)
        expect(a).toBe(toHexReference(view))
        expect(b).toBe(toHexReference(bytes))
      }),
      { seed: 11, numRuns: 500 },
    )
  })
})

describe('uninitializedBytes', () => {
  it('gives n writable bytes on an ArrayBuffer of its own (no pool slab to keep alive, transferable)', () => {
    for (const n of [0, 1, 41, 4096, 70_000]) {
      const b = uninitializedBytes(n)
      expect(b).toBeInstanceOf(Uint8Array)
      expect(b.length).toBe(n)
      expect(b.byteOffset).toBe(0)
      expect(b.buffer.byteLength).toBe(n)
      b.fill(7)
      expect(b.every((x) => x === 7)).toBe(true)
    }
    expect(uninitializedBytes(8).buffer).not.toBe(uninitializedBytes(8).buffer)
  })
})
