// Two real hosts on loopback: gossip bursts arrive whole with coalesced writes, a dropped
// connection to a keep-alive peer is redialled, and pings never cut a connection.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AllotHost, CONNECTION_MONITOR, createHost, keepAlive } from '../../../src/network/index.js'

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
      topics: [TOPIC],
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
