// Two real hosts on loopback: gossip bursts arrive whole with coalesced writes, a dropped
// connection to a keep-alive peer is redialled, and pings never cut a connection.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { sha256 } from '@noble/hashes/sha2.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AllotHost,
  CONNECTION_MONITOR,
  createHost,
  keepAlive,
  messageId,
} from '../../../src/network/index.js'

const TOPIC = '/allot/test/orders/1'
let a: AllotHost
let b: AllotHost

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 20))
  }
}

beforeAll(async () => {
  const make = async () =>
    createHost({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      topics: [{ topic: TOPIC, weight: 1 }],
      allowColocation: true,
    })
  a = await make()
  b = await make()
  a.services.pubsub.subscribe(TOPIC)
  b.services.pubsub.subscribe(TOPIC)
  const addr = b.getMultiaddrs()[0].toString()
  await a.dial(b.getMultiaddrs()[0])
  await keepAlive(a, [addr])
  await until(
    () =>
      a.services.pubsub.getSubscribers(TOPIC).length === 1 &&
      b.services.pubsub.getSubscribers(TOPIC).length === 1,
    10_000,
  )
})

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()])
})

describe('host', () => {
  it('never aborts a connection over a slow ping', () => {
    expect(CONNECTION_MONITOR.abortConnectionOnPingFailure).toBe(false)
  })

  it('delivers a burst whole, many RPCs to a write', async () => {
    const got: number[] = []
    b.services.pubsub.addEventListener('message', (ev) => {
      if (ev.detail.topic === TOPIC)
        got.push(new DataView(ev.detail.data.buffer, ev.detail.data.byteOffset).getUint32(0))
    })
    // Count the chunks gossipsub's outbound stream to b is handed.
    const out = (
      a.services.pubsub as unknown as {
        streamsOutbound: Map<string, { pushable: { push(c: Uint8Array): void } }>
      }
    ).streamsOutbound.get(b.peerId.toString())
    expect(out).toBeDefined()
    let chunks = 0
    const push = out?.pushable.push.bind(out.pushable) as (c: Uint8Array) => void
    if (out)
      out.pushable.push = (c: Uint8Array) => {
        chunks++
        push(c)
      }
    const n = 600
    for (let i = 0; i < n; i++) {
      const data = new Uint8Array(300)
      new DataView(data.buffer).setUint32(0, i)
      void a.services.pubsub.publish(TOPIC, data)
      if (i % 100 === 99) await new Promise((r) => setImmediate(r))
    }
    await until(() => got.length === n, 15_000)
    expect(new Set(got).size).toBe(n)
    expect(chunks).toBeLessThan(n / 20)
  })

  it('redials a keep-alive peer whose connection dropped', async () => {
    const conn = a.getConnections(b.peerId)[0]
    expect(conn).toBeDefined()
    await conn.close()
    await until(() => a.getConnections(b.peerId).some((c) => c.status === 'open' && c.id !== conn.id), 15_000)
  })
})

describe('gossip message id', () => {
  it('is sha256 of the payload, as noble computes it, for any length', () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 310, 8000]) {
      const data = new Uint8Array(n).map((_, i) => (i * 7 + n) & 0xff)
      expect(Buffer.from(messageId(data)).toString('hex')).toBe(Buffer.from(sha256(data)).toString('hex'))
    }
    // a view into a larger buffer hashes only its own bytes
    const big = new Uint8Array(100).map((_, i) => i)
    expect(Buffer.from(messageId(big.subarray(10, 20))).toString('hex')).toBe(
      Buffer.from(sha256(big.subarray(10, 20))).toString('hex'),
    )
  })
})
