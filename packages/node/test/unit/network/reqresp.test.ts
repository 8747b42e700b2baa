// A request/response session on two real hosts: large pipelined frames are read only up to the
// session's byte budget while their answers are pending, and every one is answered in order.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AllotHost, createHost, handleProtocol, lengthPrefixed } from '../../../src/network/index.js'

const PROTOCOL = '/allot/test/reqresp/1'
let client: AllotHost
let server: AllotHost

beforeAll(async () => {
  const make = async () =>
    createHost({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      topics: [],
      allowColocation: true,
    })
  client = await make()
  server = await make()
})

afterAll(async () => {
  await Promise.allSettled([client?.stop(), server?.stop()])
})

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('request/response sessions', () => {
  it('holds at most readAheadBytes of unanswered requests, then answers every one in order', async () => {
    const seen: number[] = []
    let release: () => void = () => {}
    const released = new Promise<void>((r) => (release = r))
    const unregister = await handleProtocol(
      server,
      PROTOCOL,
      async (req) => {
        seen.push(req[0])
        await released
        return new Uint8Array([req[0]])
      },
      {
        maxRequestBytes: 64 * 1024,
        deadlineMs: 10_000,
        readAheadBytes: 256 * 1024,
        errorFrame: () => new Uint8Array([0xff]),
      },
    )
    try {
      const stream = await client.dialProtocol(server.getMultiaddrs()[0], PROTOCOL)
      // Ten 60 kB requests at once: 600 kB written, far past the 256 kB budget.
      const frames = Array.from({ length: 10 }, (_, i) => new Uint8Array(60_000).fill(i))
      void stream.sink([lengthPrefixed(frames)])
      await until(() => seen.length >= 5, 5_000)
      await new Promise((r) => setTimeout(r, 300))
      // 4 × 60 kB < 256 kB, so a 5th is read; then the budget holds until answers go out.
      expect(seen).toEqual([0, 1, 2, 3, 4])
      release()
      const answers: number[] = []
      for await (const chunk of stream.source) {
        const b = chunk.subarray()
        // Each answer is a 1-byte frame: a length byte 1, then the byte.
        for (let i = 0; i + 1 < b.length; i += 2) answers.push(b[i + 1])
        if (answers.length === 10) break
      }
      expect(answers).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      await stream.close().catch(() => {})
    } finally {
      release()
      await unregister()
    }
  })
})
