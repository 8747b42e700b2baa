import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { batchCommitments, recoverBatchSecretKey, scalarFromHex, toHex, verifyShare } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { publicKeyFast } from '../../../src/crypto/index.js'
import {
  dealDevnetEpoch,
  devnetEpochLength,
  readSealingEpoch,
  writeEpochFiles,
} from '../../../src/sealing/index.js'

describe('the devnet dealer (native)', () => {
  it('deals Feldman-consistent shares whose t+1 subsets rebuild sk_h with sk_h·G = PK_h', () => {
    const d = dealDevnetEpoch({ startHeight: 5n, length: 20, n: 4, t: 1 })
    expect(d.public.commitments).toHaveLength(20)
    for (let k = 0; k < 20; k++) {
      const h = 5n + BigInt(k)
      const c = batchCommitments(d.public, h)
      expect(c).toHaveLength(2)
      for (let i = 1; i <= 4; i++) expect(verifyShare(c, i, scalarFromHex(d.shares[i - 1][k]))).toBe(true)
      const pick = [
        { index: 2, value: scalarFromHex(d.shares[1][k]) },
        { index: 4, value: scalarFromHex(d.shares[3][k]) },
      ]
      const { secretKey } = recoverBatchSecretKey(c, pick)
      expect(toHex(publicKeyFast(secretKey))).toBe(c[0])
    }
    // A share of another index does not pass.
    expect(verifyShare(batchCommitments(d.public, 5n), 1, scalarFromHex(d.shares[1][0]))).toBe(false)
  })

  it('covers six hours of batches, capped by the protocol epoch limit', () => {
    expect(devnetEpochLength(1000)).toBe(21_600)
    expect(devnetEpochLength(100)).toBe(100_000)
  })

  it('epoch and shares files round-trip, and a mismatched shares file fails at read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'allot-epoch-'))
    try {
      const vs = [1, 2, 3, 4].map((i) => `0x${String(i).repeat(40)}` as `0x${string}`)
      const d = dealDevnetEpoch({ startHeight: 1n, length: 8, n: 4, t: 1 })
      const shares = (i: number) => join(dir, `shares-${i}.json`)
      writeEpochFiles(d, vs, join(dir, 'epoch-0.json'), shares)
      expect(statSync(shares(1)).mode & 0o777).toBe(0o600)
      const e = readSealingEpoch(join(dir, 'epoch-0.json'), shares(3), vs)
      expect(e.public).toEqual(d.public)
      expect(e.shares).toEqual(d.shares[2])
      expect(readSealingEpoch(join(dir, 'epoch-0.json'), undefined, vs).shares).toBeNull()
      expect(() => readSealingEpoch(join(dir, 'epoch-0.json'), shares(3), [...vs].reverse())).toThrow(
        /another validator set/,
      )
      // Index 3's shares claimed by validator 2's file: the Feldman check refuses them.
      writeEpochFiles(
        { ...d, shares: [d.shares[0], d.shares[2], d.shares[2], d.shares[3]] },
        vs,
        join(dir, 'x.json'),
        shares,
      )
      expect(() => readSealingEpoch(join(dir, 'x.json'), shares(2), vs)).toThrow(/fails its commitments/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
