import { AllotClient, createNodeMetrics, createRegistry, domainOf, sealPlain } from '@allot/node'
import {
  API_LIMITS,
  API_PROTOCOL,
  type ApiResponse,
  addressOf,
  decodeApiResponse,
  decodeSealedOrder,
  encode,
  encodeApiRequest,
  encodeSealedOrder,
  type Hex,
  MAX_ORDERS_PER_GOSSIP_BUNDLE,
  type Order,
  orderGossipCodec,
  orderIdOf,
  type PrivateKey,
  payloadHashOf,
  type SealedOrder,
  SUBMIT_MANY_TAG,
  sealedOrderDigest,
  signDigest,
} from '@allot/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  Cluster,
  connectRing,
  TKA,
  TKB,
  testGenesis,
  traderKey,
  waitFor,
  waitForMesh,
} from './node-fixtures.js'

// A length-prefixed frame (unsigned varint length, as it-length-prefixed writes it), by hand.
function frame(b: Uint8Array): Uint8Array {
  const head: number[] = []
  let n = b.length
  while (n >= 0x80) {
    head.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  head.push(n)
  const out = new Uint8Array(head.length + b.length)
  out.set(head)
  out.set(b, head.length)
  return out
}

async function firstFrame(source: AsyncIterable<{ subarray(): Uint8Array }>): Promise<Uint8Array | null> {
  let buf = new Uint8Array(0)
  for await (const chunk of source) {
    const c = chunk.subarray()
    const next = new Uint8Array(buf.length + c.length)
    next.set(buf)
    next.set(c, buf.length)
    buf = next
    let len = 0
    let shift = 0
    let i = 0
    for (; i < buf.length; i++) {
      len += (buf[i] & 0x7f) * 2 ** shift
      shift += 7
      if ((buf[i] & 0x80) === 0) break
    }
    if (i < buf.length && buf.length >= i + 1 + len) return buf.subarray(i + 1, i + 1 + len)
  }
  return null
}

const genesis = testGenesis({ genesisTime: Date.now() - 600_000, batchIntervalMs: 60_000 })
const domain = domainOf(genesis)
const tokenId = (a: string) => `0x${'0'.repeat(24)}${a.slice(2)}` as Hex

function order(key: PrivateKey, batch: bigint, over: Partial<Order> = {}): Order {
  return {
    trader: addressOf(key),
    sellAsset: tokenId(TKA),
    buyAsset: tokenId(TKB),
    sellAmount: 1000n,
    buyAmount: 900n,
    kind: 'sell',
    partiallyFillable: false,
    firstBatch: batch,
    lastBatch: batch,
    nonce: 1n,
    app: `0x${'0'.repeat(64)}`,
    ...over,
  }
}

describe('bad input at the API and on gossip', () => {
  const cluster = new Cluster(genesis)
  const registry = createRegistry(false)
  const metrics = createNodeMetrics(registry)
  let client: AllotClient
  let open: bigint
  let nonce = 1000n
  const valid: Hex[] = []

  const fresh = (key = traderKey(1), over: Partial<Order> = {}): SealedOrder =>
    sealPlain(domain, order(key, open, { nonce: nonce++, ...over }), key)

  async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
    await expect(p).rejects.toMatchObject({ code })
  }

  /** Writes raw bytes on a fresh API stream and returns the answer frame (or null if the stream just closed). */
  async function raw(chunks: Uint8Array[], closeWrite = true): Promise<ApiResponse | null> {
    const stream = await client.host.dialProtocol(client.target, API_PROTOCOL)
    // Not awaited: after refusing a frame by its length prefix the server reads no more, so a frame
    // longer than yamux's window would never finish writing; the answer comes first.
    if (closeWrite) stream.sink(chunks).catch(() => {})
    else
      for (const c of chunks)
        void stream.sink(
          (async function* () {
            yield c
            await new Promise(() => {})
          })(),
        )
    const f = await firstFrame(stream.source)
    return f && decodeApiResponse(f)
  }

  beforeAll(async () => {
    await cluster.add({ metrics, apiDeadlineMs: 1500 })
    await cluster.add()
    await connectRing(cluster.nodes, 1)
    await waitForMesh(cluster.nodes, 1)
    client = await AllotClient.connect(cluster.nodes[0].apiAddrs()[0])
    open = (await client.info()).openBatch
    for (let i = 0; i < 5; i++) valid.push((await client.submit(fresh(traderKey(2)))).orderId)
  })
  afterAll(async () => {
    await client?.close()
    await cluster.stopAll()
  })

  it('refuses wrongly signed, wrong-network, replayed, closed-batch and nonsense orders with their codes', async () => {
    const o = fresh()
    await client.submit(o)
    await expectCode(client.submit(o), 'ORDER_DUPLICATE') // replay
    const sameNonce = sealPlain(
      domain,
      order(traderKey(1), open, { nonce: o.nonce, buyAmount: 1n }),
      traderKey(1),
    )
    await expectCode(client.submit(sameNonce), 'ORDER_DUPLICATE') // nonce reuse
    const forged = { ...fresh(traderKey(3)), trader: addressOf(traderKey(4)) }
    await expectCode(client.submit(forged), 'ORDER_BAD_SIGNATURE')
    const otherNet = sealPlain(
      { ...domain, chainId: 1n },
      order(traderKey(1), open, { nonce: nonce++ }),
      traderKey(1),
    )
    await expectCode(client.submit(otherNet), 'ORDER_BAD_SIGNATURE') // wrong network: the EIP-712 domain differs
    const highS = fresh()
    highS.signature = { ...highS.signature, s: `0x${'f'.repeat(64)}` }
    await expectCode(client.submit(highS), 'ORDER_BAD_SIGNATURE')
    await expectCode(
      client.submit(fresh(traderKey(1), { firstBatch: open - 2n, lastBatch: open - 2n })),
      'ORDER_TARGET_CLOSED',
    )
    await expectCode(
      client.submit(fresh(traderKey(1), { firstBatch: 1n, lastBatch: 1n })),
      'ORDER_TARGET_CLOSED',
    ) // long expired
    await expectCode(
      client.submit(fresh(traderKey(1), { firstBatch: open + 1000n, lastBatch: open + 1000n })),
      'ORDER_BAD_BATCH',
    )
    await expectCode(client.submit(fresh(traderKey(1), { sellAmount: 0n })), 'ORDER_BAD_AMOUNT')
    await expectCode(
      client.submit(fresh(traderKey(1), { buyAsset: `0x${'0'.repeat(24)}${'cc'.repeat(20)}` })),
      'ORDER_UNKNOWN_ASSET',
    )
    await expectCode(client.submit(fresh(traderKey(1), { lastBatch: open - 1n })), 'ORDER_BAD_BATCH')
    // inner order for another batch than the envelope
    const inner = fresh()
    const mismatched: SealedOrder = { ...inner, batch: open + 1n }
    mismatched.signature = signDigest(
      sealedOrderDigest(domain, {
        trader: inner.trader,
        batch: open + 1n,
        payloadHash: payloadHashOf(inner),
        nonce: inner.nonce,
      }),
      traderKey(1),
    )
    await expectCode(client.submit(mismatched), 'ORDER_BAD_BATCH')
    // cancellations: someone else's, unknown
    await expectCode(client.cancel(valid[0], traderKey(9)), 'ORDER_BAD_SIGNATURE')
    await expectCode(client.cancel(`0x${'12'.repeat(32)}`, traderKey(9)), 'ORDER_NOT_FOUND')
    await expectCode(client.status(`0x${'12'.repeat(32)}`), 'ORDER_NOT_FOUND')
    await expectCode(client.batch(5n), 'BATCH_NOT_FOUND')
    await expectCode(client.batchKey(5n), 'BATCH_KEY_UNKNOWN')
  })

  it('answers junk, truncated, oversized and lying frames with codes', async () => {
    const junk = new Uint8Array(64).map((_, i) => (i * 37 + 11) & 0xff)
    expect(await raw([frame(junk)])).toMatchObject({ kind: 'error', code: 'WIRE_MALFORMED' })
    const req = encodeApiRequest({ kind: 'submit', order: fresh() })
    const framed = frame(req)
    expect(await raw([framed.subarray(0, framed.length - 20)])).toMatchObject({
      kind: 'error',
      code: 'WIRE_MALFORMED',
    })
    expect(await raw([frame(new Uint8Array(20_000))])).toMatchObject({
      kind: 'error',
      code: 'WIRE_TOO_LARGE',
    })
    // a varint announcing a gigabyte
    expect(await raw([new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x04, 1, 2, 3])])).toMatchObject({
      kind: 'error',
      code: 'WIRE_TOO_LARGE',
    })
    // trailing bytes after a valid request
    const trailing = new Uint8Array(req.length + 3)
    trailing.set(req)
    expect(await raw([frame(trailing)])).toMatchObject({ kind: 'error', code: 'WIRE_TRAILING_BYTES' })
    // an empty stream
    expect(await raw([])).toMatchObject({ kind: 'error', code: 'API_BAD_REQUEST' })
  })

  it('takes many orders in one request: one outcome each, in order, a bad one failing only itself', async () => {
    const a = fresh(traderKey(30))
    const b = fresh(traderKey(31))
    const forged = { ...fresh(traderKey(32)), trader: addressOf(traderKey(33)) }
    const outcomes = await client.submitMany([a, encodeSealedOrder(a), new Uint8Array([1, 2, 3]), b, forged])
    expect(outcomes.map((o) => (o.kind === 'submitted' ? 'OK' : o.code))).toEqual([
      'OK',
      'ORDER_DUPLICATE',
      'WIRE_MALFORMED',
      'OK',
      'ORDER_BAD_SIGNATURE',
    ])
    const node = cluster.nodes[0]
    expect(outcomes[0]).toEqual({ kind: 'submitted', orderId: orderIdOf(a), targetBatch: open })
    expect(node.mempool.has(orderIdOf(a)) && node.mempool.has(orderIdOf(b))).toBe(true)
    // More than one request holds: split by the client, answered in order. (To the second node: the
    // first has a 1.5 s API deadline, short for ~1,000 noble recoveries on a busy machine.)
    const other = await AllotClient.connect(cluster.nodes[1].apiAddrs()[0])
    try {
      const many = Array.from({ length: API_LIMITS.maxSubmitManyOrders + 2 }, (_, i) =>
        fresh(traderKey(40 + (i % 20))),
      )
      const results = await other.submitMany(many)
      expect(results).toEqual(
        many.map((o) => ({ kind: 'submitted', orderId: orderIdOf(o), targetBatch: open })),
      )
      for (const o of many) expect(cluster.nodes[1].mempool.has(orderIdOf(o))).toBe(true)
      // and gossiped like single submits: the first node gets them all
      await waitFor(
        () => many.every((o) => node.mempool.has(orderIdOf(o))),
        10_000,
        'the orders gossiped to the first node',
      )
    } finally {
      await other.close()
    }
  })

  it('a client writing an over-long frame gets WIRE_TOO_LARGE and is not left hanging in its write', async () => {
    // 2 MiB: well past yamux's receive window, so the write can only end if the server resets the stream
    // (before, it hung until the connection closed).
    const big = new Uint8Array(2 * 1024 * 1024)
    big[0] = SUBMIT_MANY_TAG
    const stream = await client.host.dialProtocol(client.target, API_PROTOCOL)
    const write = stream.sink([frame(big)]).then(
      () => 'written',
      () => 'reset',
    )
    const f = await firstFrame(stream.source)
    expect(f && decodeApiResponse(f)).toMatchObject({ kind: 'error', code: 'WIRE_TOO_LARGE' })
    // yamux ends a write cut by a reset quietly or with an error: either way it ends.
    const settled = await Promise.race([write, new Promise((r) => setTimeout(() => r('hanging'), 10_000))])
    expect(settled).not.toBe('hanging')
    // the node still answers on a fresh stream
    expect((await client.info()).peerId).toBe(cluster.nodes[0].peerId)
  })

  it('bounds submitMany: an over-long list or frame is WIRE_TOO_LARGE', async () => {
    const n = API_LIMITS.maxSubmitManyOrders + 1
    const body = new Uint8Array(5 + 5 * n)
    body[0] = SUBMIT_MANY_TAG
    new DataView(body.buffer).setUint32(1, n)
    for (let i = 0; i < n; i++) new DataView(body.buffer).setUint32(5 + 5 * i, 1)
    expect(await raw([frame(body)])).toMatchObject({ kind: 'error', code: 'WIRE_TOO_LARGE' })
    const big = new Uint8Array(API_LIMITS.maxRequestBytes + 1)
    big[0] = SUBMIT_MANY_TAG
    expect(await raw([frame(big)])).toMatchObject({ kind: 'error', code: 'WIRE_TOO_LARGE' })
    // the node still answers
    expect((await client.info()).peerId).toBe(cluster.nodes[0].peerId)
  })

  it('times out idle streams', async () => {
    const t0 = Date.now()
    const res = await raw([new Uint8Array([0x10])], false)
    expect(res).toMatchObject({ kind: 'error', code: 'API_TIMEOUT' })
    expect(Date.now() - t0).toBeLessThan(5_000)
  })

  it('survives a flood and keeps every valid order', async () => {
    const flood = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        i % 2 === 0 ? client.submit(fresh(traderKey(10 + (i % 7)))) : client.info(),
      ),
    )
    const failed = flood.filter((r) => r.status === 'rejected') as PromiseRejectedResult[]
    for (const f of failed) expect(f.reason.code).toMatch(/^(API_|ORDER_RATE_LIMITED)/)
    expect(flood.length - failed.length).toBeGreaterThan(50)
    // every acknowledged order is in the mempool
    for (const r of flood) {
      if (r.status === 'fulfilled' && 'orderId' in (r.value as object)) {
        expect(cluster.nodes[0].mempool.has((r.value as { orderId: Hex }).orderId)).toBe(true)
      }
    }
    const node = cluster.nodes[0]
    for (const id of valid) expect(node.mempool.has(id)).toBe(true)
    const r = await client.submit(fresh())
    expect(node.mempool.has(r.orderId)).toBe(true)
  })

  it('rejects bad gossip, penalises the sender, and keeps good gossip flowing', async () => {
    const [target, attacker] = cluster.nodes
    const topic = target.ordersTopic
    const wrap = (o: SealedOrder) => encode(orderGossipCodec, { kind: 'order', order: o })
    const before = target.mempool.size
    const bad: Uint8Array[] = [
      new Uint8Array([0, 1, 2, 3]), // truncated
      new Uint8Array([7, 1, 2]), // unknown tag
      wrap({ ...fresh(traderKey(20)), trader: addressOf(traderKey(21)) }), // wrong signer
      wrap(
        sealPlain({ ...domain, chainId: 5n }, order(traderKey(20), open, { nonce: nonce++ }), traderKey(20)),
      ), // wrong network
      wrap(fresh(traderKey(20), { sellAmount: 0n })),
      new Uint8Array(6000), // oversized
    ]
    for (const b of bad) await attacker.gossip.publish(topic, b)
    const closed = wrap(fresh(traderKey(20), { firstBatch: open - 1n, lastBatch: open - 1n }))
    await attacker.gossip.publish(topic, closed)
    const good = fresh(traderKey(22))
    const goodBytes = encodeSealedOrder(good)
    attacker.publishOrder(goodBytes)
    await waitFor(() => target.mempool.size === before + 1, 5_000, 'the good order')
    const counts = new Map<string, number>()
    const read = async () => {
      counts.clear()
      for (const v of (await metrics.network.gossip.get()).values)
        counts.set(`${v.labels.verdict}:${v.labels.code}`, v.value)
      return counts
    }
    // Validation is asynchronous: wait until every message has its verdict.
    await waitFor(
      async () => [...(await read()).values()].reduce((a, b) => a + b, 0) >= bad.length + 2,
      5_000,
      'verdicts',
    ).catch(() => {
      console.log(counts)
    })
    expect(counts.get('reject:WIRE_MALFORMED')).toBe(2)
    expect(counts.get('reject:ORDER_BAD_SIGNATURE')).toBe(2)
    expect(counts.get('reject:ORDER_BAD_AMOUNT')).toBe(1)
    expect(counts.get('reject:WIRE_TOO_LARGE')).toBe(1)
    expect(counts.get('ignore:ORDER_TARGET_CLOSED')).toBe(1)
    expect(counts.get('accept:OK')).toBeGreaterThanOrEqual(1)
    await waitFor(() => target.host.services.pubsub.getScore(attacker.peerId) < 0, 5_000, 'a negative score')
    // the node still answers
    expect((await client.info()).peerId).toBe(target.peerId)
  })

  it('takes bundles order by order: good ones kept, a bad one rejects the bundle, repeats are ignored', async () => {
    // A sender of its own: the attacker of the test above is graylisted until its rejects decay (P4,
    // 0.9 a second), and the rejects this test provokes would push a half-recovered score back under.
    const target = cluster.nodes[0]
    const sender = await cluster.add()
    const topic = target.ordersTopic
    await sender.host.dial(target.host.getMultiaddrs()[0])
    await waitFor(() => sender.gossip.peersOn(topic) >= 1, 10_000, 'the sender on the topic')
    const bundle = (orders: Uint8Array[]) => encode(orderGossipCodec, { kind: 'bundle', orders })
    const verdicts = async () => {
      const m = new Map<string, number>()
      for (const v of (await metrics.network.gossip.get()).values)
        if (v.labels.topic === topic) m.set(`${v.labels.verdict}:${v.labels.code}`, v.value)
      return m
    }
    const delta = async (before: Map<string, number>, key: string) =>
      ((await verdicts()).get(key) ?? 0) - (before.get(key) ?? 0)
    const before = await verdicts()
    const seen = () => [...before.values()].reduce((a, b) => a + b, 0)
    const total = async () => [...(await verdicts()).values()].reduce((a, b) => a + b, 0)

    // A node's own burst: orders accepted in one turn leave as one bundle, and all arrive.
    const burst = Array.from({ length: 10 }, (_, i) => encodeSealedOrder(fresh(traderKey(30 + i))))
    for (const b of burst) sender.publishOrder(b)
    await waitFor(
      () => burst.every((b) => target.mempool.has(orderIdOf(decodeSealedOrder(b)))),
      5_000,
      'the burst',
    )
    await waitFor(async () => (await total()) >= seen() + 1, 5_000, 'its verdict')
    expect(await delta(before, 'accept:OK')).toBe(1)

    // One forged order among good ones: the good ones are stored, the bundle is rejected.
    const good = [fresh(traderKey(41)), fresh(traderKey(42))].map(encodeSealedOrder)
    const forged = encodeSealedOrder({ ...fresh(traderKey(43)), trader: addressOf(traderKey(44)) })
    await sender.gossip.publish(topic, bundle([good[0], forged, good[1]]))
    // Only repeats: ignored, no penalty. Empty and over-long bundles: malformed / too large.
    await sender.gossip.publish(topic, bundle(burst.slice(0, 3)))
    await sender.gossip.publish(topic, bundle([]))
    // One envelope more than a bundle may hold, written by hand (our encoder refuses to).
    const full = bundle(Array.from({ length: MAX_ORDERS_PER_GOSSIP_BUNDLE }, () => burst[0]))
    const over = new Uint8Array(full.length + 4 + burst[0].length)
    over.set(full)
    const view = new DataView(over.buffer)
    view.setUint32(1, MAX_ORDERS_PER_GOSSIP_BUNDLE + 1)
    view.setUint32(full.length, burst[0].length)
    over.set(burst[0], full.length + 4)
    await sender.gossip.publish(topic, over)
    await waitFor(async () => (await total()) >= seen() + 5, 5_000, 'every verdict')
    expect(good.every((b) => target.mempool.has(orderIdOf(decodeSealedOrder(b))))).toBe(true)
    expect(target.mempool.has(orderIdOf(decodeSealedOrder(forged)))).toBe(false)
    expect(await delta(before, 'reject:ORDER_BAD_SIGNATURE')).toBe(1)
    expect(await delta(before, 'ignore:ORDER_DUPLICATE')).toBe(1)
    expect(await delta(before, 'reject:WIRE_MALFORMED')).toBe(1)
    expect(await delta(before, 'reject:WIRE_TOO_LARGE')).toBe(1)
  })

  it('gathers the orders of several turns into one bundle when the node is given a window', async () => {
    const target = cluster.nodes[0]
    const sender = await cluster.add({ gossipBundleMs: 300 })
    const topic = target.ordersTopic
    await sender.host.dial(target.host.getMultiaddrs()[0])
    await waitFor(() => sender.gossip.peersOn(topic) >= 1, 10_000, 'the sender on the topic')
    const accepted = async () => {
      for (const v of (await metrics.network.gossip.get()).values)
        if (v.labels.topic === topic && v.labels.verdict === 'accept') return v.value
      return 0
    }
    const before = await accepted()
    const orders = Array.from({ length: 3 }, (_, i) => encodeSealedOrder(fresh(traderKey(50 + i))))
    for (const b of orders) {
      sender.publishOrder(b)
      await new Promise((r) => setTimeout(r, 20)) // a turn of the event loop, and more, between orders
    }
    await waitFor(
      () => orders.every((b) => target.mempool.has(orderIdOf(decodeSealedOrder(b)))),
      5_000,
      'the orders',
    )
    await waitFor(async () => (await accepted()) > before, 5_000, 'the verdict')
    expect((await accepted()) - before).toBe(1)
  })
})
