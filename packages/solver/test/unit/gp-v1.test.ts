import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { clearBatch, parseBatchFile, verifyResult } from '../../src/index.js'

// The batches live in the repository (packages/solver/testdata/gp-v1, with their README and licence).
const dir = join(import.meta.dirname, '..', '..', 'testdata', 'gp-v1')

describe('real batches (Gnosis Protocol v1)', () => {
  for (const file of ['batch-d.json', 'batch-5342282.json', 'batch-c.json', 'batch-a.json', 'batch-b.json']) {
    it(`${file} clears and passes verifyResult`, () => {
      const input = parseBatchFile(readFileSync(join(dir, file), 'utf8'))
      const out = clearBatch(input)
      verifyResult(input, out)
      expect(out.fills.some((f) => f.sold > 0n)).toBe(true)
      expect(out.objective).toBeGreaterThan(0n)
      // Deterministic: a second run gives the same bytes.
      expect(clearBatch(input).resultHash).toBe(out.resultHash)
    })
  }
})
