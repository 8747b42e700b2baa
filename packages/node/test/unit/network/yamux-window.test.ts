// Two real hosts on loopback, through the project's patched yamux (patches/, pnpm-workspace.yaml):
// a stream sends a window update once half of its receive window is consumed, as go-yamux does, not
// after every chunk read — and a transfer many windows long still arrives whole.
import { YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AllotHost, createHost } from '../../../src/network/index.js'

const ECHO = '/allot/test/echo/1'
let a: AllotHost
let b: AllotHost
/** Window updates sent on echo streams once established (not the SYN/ACK frames that open one). */
let updates = 0
const ESTABLISHED = 3 // yamux's StreamState.Established

interface StreamState {
  recvWindowCapacity: number
  state: number
  protocol?: string
}

beforeAll(async () => {
  const proto = YamuxStream.prototype as unknown as { sendWindowUpdate(this: StreamState): void }
  const send = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: StreamState) {
    const before = this.recvWindowCapacity
    const counted = this.protocol === ECHO && this.state === ESTABLISHED
    send.call(this)
    if (counted && this.recvWindowCapacity !== before) updates++
  }
  const make = async () =>
    createHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], topics: [] })
  a = await make()
  b = await make()
  await a.handle(ECHO, ({ stream }) => {
    void stream.sink(stream.source)
  })
})

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()])
})

/** Writes `chunks` one at a time, each after the echo of the one before; returns the bytes echoed. */
async function echo(chunks: Uint8Array[]): Promise<number> {
  const stream: Stream = await b.dialProtocol(a.getMultiaddrs()[0], ECHO)
  let wake: (() => void) | undefined
  let received = 0
  const source = (async function* () {
    for (const c of chunks) {
      const target = received + c.length
      yield c
      while (received < target) await new Promise<void>((r) => (wake = r))
    }
  })()
  const reading = (async () => {
    for await (const part of stream.source) {
      received += part.byteLength
      wake?.()
    }
  })()
  await stream.sink(source)
  await reading
  return received
}

describe('yamux receive window', () => {
  it('sends no window update for a few hundred small request/response exchanges', async () => {
    updates = 0
    const chunks = Array.from({ length: 200 }, (_, i) => new Uint8Array(400).fill(i))
    expect(await echo(chunks)).toBe(200 * 400)
    // 80 kB each way, under half of the 256 kB initial window: unpatched yamux sent ~400 updates here.
    expect(updates).toBe(0)
  })

  it('still opens the window for a transfer many windows long', async () => {
    updates = 0
    const chunks = Array.from({ length: 48 }, (_, i) => new Uint8Array(64 * 1024).fill(i))
    expect(await echo(chunks)).toBe(48 * 64 * 1024)
    expect(updates).toBeGreaterThan(0)
    expect(updates).toBeLessThan(48)
  })
})
