// Three real hosts in a full mesh on loopback: a peer that already has a message (and said IDONTWANT)
// is not sent it again when another peer forwards it — and without honourIdontwant it is, so the count
// below measures the wrapper and not the topology.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { TopicValidatorResult } from '@libp2p/interface'
import { afterAll, describe, expect, it } from 'vitest'
import { type AllotHost, createHost } from '../../../src/network/index.js'

const TOPIC = '/allot/test/orders/1'
const started: AllotHost[] = []

afterAll(async () => {
  await Promise.allSettled(started.map((h) => h.stop()))
})

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 20))
  }
}

interface Internals {
  sendRpc(id: string, rpc: { messages?: unknown[] }): boolean
}

/**
 * a publishes `n` messages of 2 kB (over gossipsub's 512-byte IDONTWANT threshold) to b and c. b accepts
 * each 250 ms after it arrives and c 600 ms after, so the IDONTWANT each sends on arrival reaches the
 * other before either forwards; without the wrapper b forwards every message to c (c, still validating
 * when b's copy comes, counts b among its senders and does not send it back). Returns the messages b
 * then sent to c and c to b.
 */
async function forwardsBetweenReceivers(honour: boolean, n: number): Promise<number> {
  const make = async () => {
    const h = await createHost({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      topics: [{ topic: TOPIC, weight: 1 }],
      allowColocation: true,
      honourIdontwant: honour,
    })
    started.push(h)
    h.services.pubsub.subscribe(TOPIC)
    return h
  }
  const [a, b, c] = [await make(), await make(), await make()]
  await a.dial(b.getMultiaddrs()[0])
  await a.dial(c.getMultiaddrs()[0])
  await b.dial(c.getMultiaddrs()[0])
  await until(() => [a, b, c].every((h) => h.services.pubsub.getMeshPeers(TOPIC).length === 2), 15_000)

  let forwards = 0
  const got = new Map<AllotHost, number>()
  for (const [h, other, delay] of [
    [b, c, 250],
    [c, b, 600],
  ] as const) {
    const g = h.services.pubsub as unknown as Internals
    const send = g.sendRpc.bind(g)
    g.sendRpc = (id, rpc) => {
      if (id === other.peerId.toString()) forwards += rpc.messages?.length ?? 0
      return send(id, rpc)
    }
    h.services.pubsub.addEventListener('gossipsub:message', (ev) => {
      const { msg, msgId, propagationSource } = ev.detail
      if (msg.topic !== TOPIC) return
      got.set(h, (got.get(h) ?? 0) + 1)
      setTimeout(
        () =>
          h.services.pubsub.reportMessageValidationResult(
            msgId,
            propagationSource.toString(),
            TopicValidatorResult.Accept,
          ),
        delay,
      )
    })
  }
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(2048).fill(i + (honour ? 0 : 128))
    await a.services.pubsub.publish(TOPIC, data)
  }
  await until(() => got.get(b) === n && got.get(c) === n, 10_000)
  await new Promise((r) => setTimeout(r, 800)) // past every validation delay: all forwards are done
  return forwards
}

describe('honourIdontwant', () => {
  it('sends no message to a peer that said IDONTWANT for it', async () => {
    const n = 10
    // Without it, b forwards every message to c, who has it already.
    expect(await forwardsBetweenReceivers(false, n)).toBe(n)
    expect(await forwardsBetweenReceivers(true, n)).toBe(0)
  }, 60_000)
})
