import { addressOf, fromHex, keccak256, privateKeyFromHex, recoverAddress, signDigest } from '@allot/protocol'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { createInlineVerifier, createWorkerVerifier } from '../../../src/mempool/index.js'

describe('signature verifiers agree with noble', () => {
  const noble = createWorkerVerifier({ threads: 1, backend: 'noble', chunk: 7 })
  const native = createWorkerVerifier({ threads: 2, backend: 'native', chunk: 5 })
  const inline = createInlineVerifier()
  afterAll(async () => {
    await Promise.all([noble.close(), native.close(), inline.close()])
  })

  it('recover the same address, and null for the same bad signatures', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.integer({ min: 1, max: 1_000_000 }),
            fc.uint8Array({ minLength: 1, maxLength: 40 }),
            fc.boolean(),
          ),
          {
            minLength: 1,
            maxLength: 24,
          },
        ),
        async (cases) => {
          const jobs = cases.map(([k, msg, corrupt]) => {
            const key = privateKeyFromHex(`0x${k.toString(16).padStart(64, '0')}`)
            const digest = keccak256(msg)
            const sig = signDigest(digest, key)
            // A flipped r usually recovers another address, sometimes none: both backends must agree.
            const r = (
              corrupt ? `${sig.r.slice(0, 65)}${sig.r.endsWith('1') ? '2' : '1'}` : sig.r
            ) as `0x${string}`
            return { digest, signature: { ...sig, r }, expect: corrupt ? undefined : addressOf(key) }
          })
          // The same signatures as r ‖ s ‖ v bytes (as intake hands them over from an envelope).
          const raw = jobs.map((j) => ({
            digest: j.digest,
            raw: new Uint8Array([...fromHex(j.signature.r), ...fromHex(j.signature.s), j.signature.v]),
          }))
          const [a, b, c, d, e, f] = await Promise.all([
            noble.recover(jobs),
            native.recover(jobs),
            inline.recover(jobs),
            native.recover(raw),
            noble.recover(raw),
            inline.recover(raw),
          ])
          expect(b).toEqual(a)
          expect(c).toEqual(a)
          expect(d).toEqual(a)
          expect(e).toEqual(a)
          expect(f).toEqual(a)
          jobs.forEach((j, i) => {
            if (j.expect) expect(a[i]).toBe(j.expect)
            else {
              let ref: string | null = null
              try {
                ref = recoverAddress(j.digest, j.signature)
              } catch {}
              expect(a[i]).toBe(ref)
            }
          })
        },
      ),
      { numRuns: 15, seed: 42 },
    )
  })

  it('refuses malformed signatures before queueing', async () => {
    const digest = keccak256(new Uint8Array([1]))
    const sig = signDigest(digest, privateKeyFromHex(`0x${'11'.repeat(32)}`))
    await expect(noble.recover([{ digest, signature: { ...sig, v: 29 } }])).rejects.toMatchObject({
      code: 'ORDER_BAD_SIGNATURE',
    })
    await expect(
      noble.recover([{ digest, signature: { ...sig, s: `0x${'ff'.repeat(32)}` } }]),
    ).rejects.toMatchObject({
      code: 'ORDER_BAD_SIGNATURE',
    })
    const raw = (v: number, s = fromHex(sig.s)) => new Uint8Array([...fromHex(sig.r), ...s, v])
    for (const bad of [raw(29), raw(sig.v, new Uint8Array(32).fill(0xff)), raw(sig.v, new Uint8Array(32))])
      await expect(native.recover([{ digest, raw: bad }])).rejects.toMatchObject({
        code: 'ORDER_BAD_SIGNATURE',
      })
    // short hex that BigInt accepts: refused when queued, never thrown inside the pool
    await expect(
      noble.recover([{ digest, signature: { ...sig, r: `0x${sig.r.slice(3)}` } }]),
    ).rejects.toMatchObject({
      code: 'ORDER_BAD_SIGNATURE',
    })
  })
})
