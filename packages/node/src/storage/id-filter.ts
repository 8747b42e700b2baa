/**
 * A Bloom filter over 32-byte ids written as hex (`0x` and 64 digits, or the 64 digits alone, either
 * case): `mayContain` says "maybe" or "certainly not". Intake asks level whether each new order
 * already had a final status; almost none has, and the filter answers those in memory — no `getMany`,
 * no thread-pool job, no macrotask — while a "maybe" still goes to level, so the answer stays exact.
 *
 * The ids are keccak256 outputs, so their digits already are independent uniform bits: each probe
 * takes 8 digits (32 bits) of the id, masked to the filter's size, instead of hashing again. Someone
 * grinding ids to hit set bits only sends their own lookups to level.
 */
export class IdFilter {
  private readonly words: Uint32Array
  private readonly mask: number
  /** Ids added (with repeats). */
  added = 0

  /** `log2Bits`: the filter's size, 2^log2Bits bits (16–32). */
  constructor(readonly log2Bits: number) {
    if (!Number.isInteger(log2Bits) || log2Bits < 16 || log2Bits > 32)
      throw new RangeError(`log2Bits must be an integer in 16..32, got ${log2Bits}`)
    this.words = new Uint32Array(2 ** (log2Bits - 5))
    this.mask = log2Bits === 32 ? 0xffffffff : 2 ** log2Bits - 1
  }

  /**
   * A filter with ≥ 16 bits per id for `n` ids (false positives ≈ 0.1 % at that load), and at least
   * 2^minLog2Bits bits (default 2^24: 2 MiB, room for ≈ 1M ids).
   */
  static sizedFor(n: number, minLog2Bits = 24): IdFilter {
    const need = Math.ceil(Math.log2(Math.max(1, n) * BITS_PER_ID))
    return new IdFilter(Math.min(32, Math.max(minLog2Bits, need)))
  }

  /** How many ids the filter holds at its intended false-positive rate. */
  get capacity(): number {
    return 2 ** this.log2Bits / BITS_PER_ID
  }

  add(id: string): void {
    const at = digitsAt(id)
    if (at < 0) return
    for (let p = 0; p < PROBES; p++) {
      const bit = (probe(id, at + 8 * p) & this.mask) >>> 0
      this.words[bit >>> 5] |= 1 << (bit & 31)
    }
    this.added++
  }

  /** False only if `id` was never added. Anything not shaped like an id is a "maybe". */
  mayContain(id: string): boolean {
    const at = digitsAt(id)
    if (at < 0) return true
    for (let p = 0; p < PROBES; p++) {
      const bit = (probe(id, at + 8 * p) & this.mask) >>> 0
      if ((this.words[bit >>> 5] & (1 << (bit & 31))) === 0) return false
    }
    return true
  }
}

/** Bits per id the filter is sized for, and probes per id (≈ optimal 11; 7 keep the cost down). */
const BITS_PER_ID = 16
const PROBES = 7

/** Where the 64 digits start (after `0x`, or at 0), or -1 when `id` is not that long. */
function digitsAt(id: string): number {
  if (id.length === 66) return 2
  if (id.length === 64) return 0
  return -1
}

/** 8 hex digits of `id` from `at` as an unsigned 32-bit number (a non-digit reads as some value). */
function probe(id: string, at: number): number {
  let v = 0
  for (let i = at; i < at + 8; i++) {
    const c = id.charCodeAt(i) | 0x20 // lower case
    v = (v << 4) | (c <= 0x39 ? c - 0x30 : c - 0x57)
  }
  return v >>> 0
}
