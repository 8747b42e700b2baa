// `submitMany` at the API handler: one outcome per order, in order, each order through intake on its
// own; the request's bounds; the hand-written response encoding against the codec.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  API_LIMITS,
  addressOf,
  decodeApiRequest,
  decodeApiResponse,
  deterministicRng,
  encodeApiRequest,
  encodeApiResponse,
  encodeSealedOrder,
  type Hex,
  keccak256,
  type NetworkDomain,
  type Order,
  orderIdOf,
  type PrivateKey,
  privateKeyFromHex,
  randomScalar,
  type SealedOrder,
  SUBMIT_MANY_TAG,
  type SubmitOutcome,
  scalarToBytes,
  sealOrder,
  signOrder,
  toHex,
} from '@allot/protocol'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createApiHandler,
  decodeSubmittedMany,
  encodeSubmittedMany,
  sealPlain,
  submitManyFrame,
} from '../../../src/api/index.js'
import {
  createInlineVerifier,
  GenesisBalanceReader,
  GenesisBondReader,
  GenesisClockSchedule,
  Mempool,
  OrderIntake,
} from '../../../src/mempool/index.js'
import { NodeStorage } from '../../../src/storage/index.js'

const domain: NetworkDomain = { chainId: 7n, verifyingContract: '0x5e77000000000000000000000000000000000001' }
const A = `0x${'0'.repeat(62)}aa` as Hex
const B = `0x${'0'.repeat(62)}bb` as Hex
const key = (i: number): PrivateKey => privateKeyFromHex(`0x${(i + 1).toString(16).padStart(64, '0')}`)
const NOW = 1_700_000_000_000
const rng = deterministicRng('submit-many')
const batchKey = secp256k1.getPublicKey(scalarToBytes(randomScalar(rng)), true)

function order(k: PrivateKey, batch: bigint, nonce: bigint): Order {
  return {
    trader: addressOf(k),
    sellAsset: A,
    buyAsset: B,
    sellAmount: 10n + nonce,
    buyAmount: 9n,
    kind: 'sell',
    partiallyFillable: false,
    firstBatch: batch,
    lastBatch: batch,
    nonce,
    app: `0x${'0'.repeat(64)}`,
  }
}

function sealed(k: PrivateKey, batch: bigint, nonce: bigint): SealedOrder {
  const o = order(k, batch, nonce)
  return sealOrder({
    domain,
    signedOrder: { order: o, signature: signOrder(domain, o, k) },
    batchPublicKey: batchKey,
    traderKey: k,
    nonce,
    rng,
  })
}

describe('submitMany at the API', () => {
  const dirs: string[] = []
  const stores: NodeStorage[] = []
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => {})
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  async function setup(dir = mkdtempSync(join(tmpdir(), 'allot-many-'))) {
    if (!dirs.includes(dir)) dirs.push(dir)
    const storage = await NodeStorage.open(dir)
    stores.push(storage)
    const mempool = new Mempool(storage)
    await mempool.load()
    const bonds = new GenesisBondReader(10n, new Map([[addressOf(key(9)), 1n]]))
    const intake = new OrderIntake({
      rules: {
        domain,
        assets: new Set([A, B]),
        sealingEnabled: true,
        perTraderMaxOrdersPerBatch: 3,
        minBond: 5n,
      },
      schedule: new GenesisClockSchedule({
        genesisTime: NOW,
        batchIntervalMs: 1000,
        intakeCutoffMs: 100,
        now: () => NOW,
      }),
      mempool,
      verifier: createInlineVerifier(),
      bonds,
      knownFinal: async (ids) => (await storage.orderStatus.getMany(ids)).map((s) => s !== undefined),
      now: () => NOW,
    })
    const published: Uint8Array[] = []
    const handler = createApiHandler({
      intake,
      mempool,
      storage,
      balances: new GenesisBalanceReader(A, bonds),
      info: () => {
        throw new Error('not in this test')
      },
      publishOrder: (b) => published.push(b),
      publishCancel: () => {},
    })
    const ask = async (orders: Uint8Array[]) => {
      const frame = encodeApiRequest({ kind: 'submitMany', orders })
      const res = decodeApiResponse(
        (await handler(frame, { peer: 'p', signal: new AbortController().signal })) as Uint8Array,
      )
      if (res.kind !== 'submittedMany') throw new Error(`expected outcomes, got ${JSON.stringify(res)}`)
      return res.results
    }
    return { storage, mempool, handler, published, ask, dir }
  }

  it('answers one outcome per order, in order; a bad order fails only itself; accepted ones are stored and published', async () => {
    const { mempool, published, ask, dir, storage } = await setup()
    const good = [sealed(key(1), 1n, 1n), sealed(key(2), 1n, 1n), sealed(key(1), 1n, 2n)]
    const bytes = good.map(encodeSealedOrder)
    const sameNonce = encodeSealedOrder(sealed(key(1), 1n, 1n)) // another ciphertext, nonce of good[0]
    const forged = encodeSealedOrder({ ...sealed(key(3), 1n, 1n), trader: addressOf(key(4)) })
    const malformed = bytes[1].slice(0, 100)
    const plain = encodeSealedOrder(sealPlain(domain, order(key(5), 1n, 1n), key(5)))
    const closed = encodeSealedOrder(sealed(key(6), 0n, 1n))
    const poor = encodeSealedOrder(sealed(key(9), 1n, 1n))
    const results = await ask([
      bytes[0],
      bytes[0], // the same order twice in one request
      forged,
      bytes[1],
      malformed,
      sameNonce,
      plain,
      closed,
      poor,
      bytes[2],
    ])
    const codes = results.map((r) => (r.kind === 'submitted' ? 'OK' : r.code))
    expect(codes).toEqual([
      'OK',
      'ORDER_DUPLICATE',
      'ORDER_BAD_SIGNATURE',
      'OK',
      'WIRE_MALFORMED',
      'ORDER_DUPLICATE',
      'ORDER_PLAIN_REFUSED',
      'ORDER_TARGET_CLOSED',
      'ORDER_INSUFFICIENT_BOND',
      'OK',
    ])
    const ids = good.map(orderIdOf)
    expect([results[0], results[3], results[9]]).toEqual(
      ids.map((orderId) => ({ kind: 'submitted', orderId, targetBatch: 1n })),
    )
    // Accepted: in the mempool, published once each, exactly their envelopes.
    expect(mempool.size).toBe(3)
    expect(published.map((b) => toHex(keccak256(b))).sort()).toEqual([...ids].sort())
    // A replay of the whole request: every order is now a duplicate.
    expect((await ask(bytes)).map((r) => (r.kind === 'error' ? r.code : 'OK'))).toEqual([
      'ORDER_DUPLICATE',
      'ORDER_DUPLICATE',
      'ORDER_DUPLICATE',
    ])
    // Answered means on disk: a restart finds them.
    await storage.close()
    const again = await setup(dir)
    for (const id of ids) expect(again.mempool.has(id)).toBe(true)
    expect(again.mempool.size).toBe(3)
  })

  it('keeps the per-trader cap and one order per nonce among orders in flight together', async () => {
    const { ask, mempool } = await setup()
    const five = [1n, 2n, 3n, 4n, 5n].map((n) => encodeSealedOrder(sealed(key(7), 1n, n)))
    const results = await ask(five)
    expect(results.filter((r) => r.kind === 'submitted')).toHaveLength(3)
    expect(results.filter((r) => r.kind === 'error' && r.code === 'ORDER_RATE_LIMITED')).toHaveLength(2)
    expect(mempool.countFor(addressOf(key(7)), 1n)).toBe(3)
    const twins = [encodeSealedOrder(sealed(key(8), 1n, 1n)), encodeSealedOrder(sealed(key(8), 1n, 1n))]
    const r2 = await ask(twins)
    expect(r2.map((r) => (r.kind === 'error' ? r.code : 'OK'))).toEqual(['OK', 'ORDER_DUPLICATE'])
  })

  it('storage failing as a whole refuses every order still waiting, publishing none', async () => {
    const { ask, mempool, published, storage } = await setup()
    const two = [encodeSealedOrder(sealed(key(1), 1n, 1n)), encodeSealedOrder(sealed(key(2), 1n, 1n))]
    const dup = two[0]
    await storage.close()
    const results = await ask([...two, dup])
    // The two pass the checks without I/O and share the failure of the first stage that reads the closed
    // store (the final-status lookup); the duplicate was refused before it.
    expect(results.map((r) => (r.kind === 'error' ? r.code : 'OK'))).toEqual([
      'API_INTERNAL',
      'API_INTERNAL',
      'ORDER_DUPLICATE',
    ])
    expect(mempool.size).toBe(0)
    expect(published).toHaveLength(0)
    // Nothing is left in flight: the same orders are judged afresh (here: the store still fails).
    expect((await ask(two)).map((r) => (r.kind === 'error' ? r.code : 'OK'))).toEqual([
      'API_INTERNAL',
      'API_INTERNAL',
    ])
  })

  it('refuses an over-long list, and any other request past one order, with WIRE_TOO_LARGE', async () => {
    const { handler } = await setup()
    const ctx = { peer: 'p', signal: new AbortController().signal }
    const one = encodeSealedOrder(sealed(key(1), 1n, 1n))
    const max = API_LIMITS.maxSubmitManyOrders
    expect(() => encodeApiRequest({ kind: 'submitMany', orders: Array(max + 1).fill(one) })).toThrow(
      /WIRE_TOO_LARGE/,
    )
    // By hand: the tag, a count of max + 1, then max + 1 tiny orders.
    const n = max + 1
    const frame = new Uint8Array(5 + 5 * n)
    frame[0] = SUBMIT_MANY_TAG
    new DataView(frame.buffer).setUint32(1, n)
    for (let i = 0; i < n; i++) new DataView(frame.buffer).setUint32(5 + 5 * i, 1)
    expect(decodeApiResponse((await handler(frame, ctx)) as Uint8Array)).toMatchObject({
      kind: 'error',
      code: 'WIRE_TOO_LARGE',
    })
    // A list that claims more orders than the frame holds.
    const lying = new Uint8Array([SUBMIT_MANY_TAG, 0, 0, 0, 3, 0, 0, 0, 1, 7])
    expect(decodeApiResponse((await handler(lying, ctx)) as Uint8Array)).toMatchObject({
      kind: 'error',
      code: 'WIRE_MALFORMED',
    })
    // Any other request is bounded by one order: a 20 kB submit frame is refused before decoding.
    const big = new Uint8Array(API_LIMITS.maxSingleRequestBytes + 1)
    expect(decodeApiResponse((await handler(big, ctx)) as Uint8Array)).toMatchObject({
      kind: 'error',
      code: 'WIRE_TOO_LARGE',
    })
    // A full request of ordinary sealed orders fits the frame.
    const full = Array.from({ length: max }, (_, i) =>
      encodeSealedOrder(sealed(key(20 + (i % 40)), 1n, BigInt(i))),
    )
    expect(encodeApiRequest({ kind: 'submitMany', orders: full }).length).toBeLessThanOrEqual(
      API_LIMITS.maxRequestBytes,
    )
  })

  it('takes a single submit frame through intake with the codes decoding the request would give', async () => {
    const { handler, mempool } = await setup()
    const ctx = { peer: 'p', signal: new AbortController().signal }
    const ask = async (frame: Uint8Array) => decodeApiResponse((await handler(frame, ctx)) as Uint8Array)
    const o = sealed(key(1), 1n, 1n)
    const frame = encodeApiRequest({ kind: 'submit', order: o })
    expect(await ask(frame)).toEqual({ kind: 'submitted', orderId: orderIdOf(o), targetBatch: 1n })
    expect(mempool.has(orderIdOf(o))).toBe(true)
    expect(await ask(frame)).toMatchObject({ kind: 'error', code: 'ORDER_DUPLICATE' })
    const other = encodeApiRequest({ kind: 'submit', order: sealed(key(2), 1n, 1n) })
    for (const [bad, code] of [
      [new Uint8Array([...other, 0]), 'WIRE_TRAILING_BYTES'],
      [other.slice(0, other.length - 10), 'WIRE_MALFORMED'],
      [new Uint8Array(20_000), 'WIRE_TOO_LARGE'],
      [
        encodeApiRequest({ kind: 'submit', order: sealPlain(domain, order(key(3), 1n, 1n), key(3)) }),
        'ORDER_PLAIN_REFUSED',
      ],
    ] as const) {
      let viaDecoder: string | undefined
      try {
        decodeApiRequest(bad)
      } catch (e) {
        viaDecoder = (e as { code: string }).code
      }
      expect(await ask(bad)).toMatchObject({ kind: 'error', code })
      if (code !== 'ORDER_PLAIN_REFUSED') expect(viaDecoder).toBe(code)
    }
  })

  it('client: builds the request and reads the answer exactly as the codec does', () => {
    const orders = [0, 1, 300, 4608].map((n) => new Uint8Array(n).fill(n % 251))
    for (const os of [orders, [], orders.slice(2)])
      expect(submitManyFrame(os)).toEqual(encodeApiRequest({ kind: 'submitMany', orders: os }))
    expect(() => submitManyFrame(Array(API_LIMITS.maxSubmitManyOrders + 1).fill(orders[0]))).toThrow(
      /WIRE_TOO_LARGE/,
    )
    expect(() => submitManyFrame([new Uint8Array(4609)])).toThrow(/WIRE_TOO_LARGE/)
    const ok = (i: number): SubmitOutcome => ({
      kind: 'submitted',
      orderId: `0x${i.toString(16).padStart(64, '0')}` as Hex,
      targetBatch: BigInt(i) << 40n,
    })
    const refused: SubmitOutcome = { kind: 'error', code: 'ORDER_DUPLICATE', message: 'known' }
    for (const rs of [[], [ok(1)], [ok(1), ok(2), ok(3)], [ok(1), refused, ok(3)], [refused]]) {
      const frame = encodeApiResponse({ kind: 'submittedMany', results: rs })
      expect(decodeSubmittedMany(frame)).toEqual(rs)
      // Cut or extended answers are refused as the codec refuses them.
      expect(() => decodeSubmittedMany(frame.subarray(0, frame.length - 1))).toThrow(/WIRE_/)
      expect(() => decodeSubmittedMany(new Uint8Array([...frame, 0]))).toThrow(/WIRE_/)
    }
    expect(() =>
      decodeSubmittedMany(encodeApiResponse({ kind: 'error', code: 'API_TIMEOUT', message: 'late' })),
    ).toThrow(/API_TIMEOUT/)
  })

  it('encodes outcomes by hand exactly as the codec does', () => {
    const outcomes: SubmitOutcome[] = [
      { kind: 'submitted', orderId: `0x${'ab'.repeat(32)}`, targetBatch: 1n },
      { kind: 'error', code: 'ORDER_DUPLICATE', message: 'order 0x… is known' },
      { kind: 'submitted', orderId: `0x${'0F'.repeat(32)}` as Hex, targetBatch: (1n << 64n) - 1n },
      { kind: 'submitted', orderId: `0x${'00'.repeat(32)}`, targetBatch: 0n },
    ]
    for (const rs of [outcomes, [], outcomes.slice(0, 1)]) {
      expect(encodeSubmittedMany(rs)).toEqual(encodeApiResponse({ kind: 'submittedMany', results: rs }))
    }
    // Not an id: the codec's refusal, not a silently wrong frame (a control character one bit from a
    // digit, a letter past 'f', a short or long id, no 0x).
    for (const orderId of [
      `0x${'zz'.repeat(32)}`,
      `0x${'ab'.repeat(31)}a\u0010`,
      `0x${'ab'.repeat(31)}ag`,
      `0x${'ab'.repeat(31)}`,
      `0x${'ab'.repeat(33)}`,
      `0y${'ab'.repeat(32)}`,
    ]) {
      expect(() =>
        encodeSubmittedMany([{ kind: 'submitted', orderId: orderId as Hex, targetBatch: 1n }]),
      ).toThrow(/WIRE_MALFORMED/)
    }
  })
})
