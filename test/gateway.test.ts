/**
 * The HTTP gateway on a real node (one validator, in process: consensus, the batch pipeline, the p2p API
 * handler): its OpenAPI document against the implementation — every documented path is served and every
 * served path documented; live answers validate against the document's schemas — and bad input: oversized
 * bodies, junk JSON, malformed fields, floods, each refused with its code and nothing lost.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  addressOf,
  cancelDigest,
  decodeApiResponse,
  encode,
  encodeApiRequest,
  type Hex,
  type NodeInfo,
  type PrivateKey,
  privateKeyFromHex,
  sealedOrderCodec,
  signDigest,
  toHex,
} from '@allot/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildOrder, sealPlain } from '../packages/node/src/api/client.js'
import { FIXED_PATHS, Gateway, ROUTES, STREAM_PATHS } from '../packages/node/src/gateway/index.js'
import { type RunningNode, runNode } from '../packages/node/src/run.js'
import { validatorGenesis, waitFor } from './node-fixtures.js'
import { checkSchema } from './support/json-schema.js'

const validatorKey: PrivateKey = new Uint8Array(32).fill(0x61)
const alice = privateKeyFromHex(`0x${'a1'.repeat(32)}`)
const bob = privateKeyFromHex(`0x${'b2'.repeat(32)}`)
const E18 = 10n ** 18n

type Json = Record<string, unknown>
interface Doc {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: Json }> }> }>
  >
  components: { schemas: Record<string, Json> }
}

let running: RunningNode
let base: string
let doc: Doc
const dirs: string[] = []

async function call(
  method: string,
  path: string,
  body?: unknown,
  raw?: string | Buffer,
): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {},
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  })
  const text = await res.text()
  return { status: res.status, json: JSON.parse(text) as Json }
}

/** The live answer of `method path` checked against the document's 200 (or error) schema for it. */
function conforms(template: string, method: string, status: number, json: unknown): void {
  const op = doc.paths[template]?.[method.toLowerCase()]
  expect(op, `${method} ${template} documented`).toBeDefined()
  const resp = op.responses[status === 200 ? '200' : 'default']
  const schema = resp.content?.['application/json']?.schema as Json
  expect(checkSchema(json, schema, doc.components.schemas), `${method} ${template} → ${status}`).toEqual([])
}

async function info(): Promise<NodeInfo> {
  const { json } = await call('GET', '/v1/info')
  return {
    ...(json as unknown as NodeInfo),
    openBatch: BigInt(json.openBatch as string),
    chainId: BigInt(json.chainId as string),
  }
}

/** A plain-payload envelope (this network has sealing off) as the hex the gateway takes. */
function envelopeHex(i: NodeInfo, key: PrivateKey, spec: Parameters<typeof buildOrder>[1]): Hex {
  const order = buildOrder(i, spec, addressOf(key))
  const sealed = sealPlain({ chainId: i.chainId, verifyingContract: i.settlement }, order, key)
  return toHex(encode(sealedOrderCodec, sealed)) as Hex
}

/** Reads server-sent events until `n` of kind `event` arrived; returns their data. */
async function events(path: string, event: string, n: number): Promise<Json[]> {
  const ctrl = new AbortController()
  const res = await fetch(`${base}${path}`, { signal: ctrl.signal })
  expect(res.headers.get('content-type')).toBe('text/event-stream')
  const out: Json[] = []
  const reader = res.body!.getReader()
  let buf = ''
  while (out.length < n) {
    const { value, done } = await reader.read()
    if (done) break
    buf += new TextDecoder().decode(value)
    let end = buf.indexOf('\n\n')
    while (end >= 0) {
      const block = buf.slice(0, end)
      buf = buf.slice(end + 2)
      const kind = /^event: (.*)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (kind === event && data) out.push(JSON.parse(data) as Json)
      end = buf.indexOf('\n\n')
    }
  }
  ctrl.abort()
  return out
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'allot-gateway-'))
  dirs.push(dir)
  running = await runNode({
    genesis: validatorGenesis('gateway-test', [validatorKey], { enabled: false }),
    dataDir: dir,
    validatorKey,
    verifier: { threads: 1 },
    chainView: { available: async () => 10n ** 24n, settledHeightAt: async () => 0n },
    http: { port: 0 },
  })
  base = running.gateway!.url
  await waitFor(async () => (running.consensus?.height ?? 0n) >= 3n, 20_000, 'consensus running')
  doc = (await call('GET', '/openapi.json')).json as unknown as Doc
}, 40_000)

afterAll(async () => {
  await running?.stop()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('the OpenAPI document and the implementation', () => {
  it('documents exactly the paths the gateway serves, and serves every one it documents', async () => {
    expect((doc as unknown as Json).openapi).toBe('3.1.0')
    const served = [
      ...FIXED_PATHS.map((p) => `get ${p.path}`),
      ...STREAM_PATHS.map((p) => `get ${p.path}`),
      ...ROUTES.map((r) => `${r.method.toLowerCase()} ${r.path}`),
    ].sort()
    const documented = Object.entries(doc.paths)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`))
      .sort()
    expect(documented).toEqual(served)
    // Each documented operation reaches a handler on the live server: whatever it answers, never "no such
    // route" or "wrong method" (a path parameter of the right shape but unknown may be a coded 404).
    const zero32 = `0x${'00'.repeat(32)}`
    for (const entry of documented) {
      const [method, template] = entry.split(' ')
      if (template.includes('/stream/')) continue // streams are read below
      const path = template
        .replace('{orderId}', zero32)
        .replace('{height}', '1')
        .replace('{address}', `0x${'00'.repeat(20)}`)
      const r = await call(method.toUpperCase(), path, method === 'post' ? {} : undefined)
      expect(['API_NOT_FOUND', 'API_METHOD_NOT_ALLOWED'], entry).not.toContain(r.json.code)
    }
    const missing = await call('GET', '/v1/nothing-here')
    expect([missing.status, missing.json.code]).toEqual([404, 'API_NOT_FOUND'])
    const wrongMethod = await call('POST', '/v1/info', {})
    expect([wrongMethod.status, wrongMethod.json.code]).toEqual([405, 'API_METHOD_NOT_ALLOWED'])
  })

  it('answers every operation live with JSON that validates against its schema', async () => {
    const i = await info()
    conforms('/v1/info', 'GET', 200, (await call('GET', '/v1/info')).json)
    const h = await call('GET', '/health')
    conforms('/health', 'GET', h.status, h.json)
    // A crossing pair, the second through submitMany, into the same batch a few heights ahead.
    const target = i.openBatch + 2n
    const a = await call('POST', '/v1/orders', {
      envelope: envelopeHex(i, alice, {
        sell: 'TKA',
        sellAmount: 10n * E18,
        buy: 'TKB',
        buyAmount: 9n * E18,
        batch: target,
        partiallyFillable: true,
      }),
    })
    expect(a.status, JSON.stringify(a.json)).toBe(200)
    conforms('/v1/orders', 'POST', a.status, a.json)
    const many = await call('POST', '/v1/orders/many', {
      envelopes: [
        envelopeHex(i, bob, {
          sell: 'TKB',
          sellAmount: 10n * E18,
          buy: 'TKA',
          buyAmount: 9n * E18,
          batch: target,
          partiallyFillable: true,
        }),
        '0x00', // malformed: fails its own outcome only
      ],
    })
    conforms('/v1/orders/many', 'POST', many.status, many.json)
    const outcomes = many.json.results as Json[]
    expect(outcomes.map((o) => o.kind)).toEqual(['submitted', 'error'])
    expect(outcomes[1].code).toBe('WIRE_MALFORMED')
    const aliceId = a.json.orderId as string

    // A resting order far ahead, cancelled by its trader's signature.
    const far = await call('POST', '/v1/orders', {
      envelope: envelopeHex(i, alice, {
        sell: 'TKA',
        sellAmount: E18,
        buy: 'TKB',
        buyAmount: E18,
        batch: i.openBatch + 40n,
      }),
    })
    expect(far.status, JSON.stringify(far.json)).toBe(200)
    const farId = far.json.orderId as Hex
    const sig = signDigest(
      cancelDigest(
        { chainId: i.chainId, verifyingContract: i.settlement },
        { trader: addressOf(alice), orderId: farId },
      ),
      alice,
    )
    const cancelled = await call('POST', `/v1/orders/${farId}/cancel`, {
      trader: addressOf(alice),
      signature: sig,
    })
    expect(cancelled.status, JSON.stringify(cancelled.json)).toBe(200)
    conforms('/v1/orders/{orderId}/cancel', 'POST', cancelled.status, cancelled.json)

    // The order's status stream opens with its current status.
    const [first] = await events(`/v1/stream/orders/${aliceId}`, 'status', 1)
    expect(checkSchema(first, { $ref: '#/components/schemas/OrderStatus' }, doc.components.schemas)).toEqual(
      [],
    )

    // Filled once its batch is decided, cleared and certified.
    let status: Json = {}
    await waitFor(
      async () => {
        status = (await call('GET', `/v1/orders/${aliceId}`)).json
        return status.status === 'filled' || status.status === 'partially_filled'
      },
      30_000,
      'alice filled',
    )
    conforms('/v1/orders/{orderId}', 'GET', 200, status)
    const height = status.batch as string
    for (const [template, path] of [
      ['/v1/orders/{orderId}/life', `/v1/orders/${aliceId}/life`],
      ['/v1/batches', '/v1/batches?limit=5'],
      ['/v1/batches/latest', '/v1/batches/latest'],
      ['/v1/batches/{height}', `/v1/batches/${height}`],
      ['/v1/batches/{height}/book', `/v1/batches/${height}/book`],
      ['/v1/balances/{address}', `/v1/balances/${addressOf(alice)}`],
      ['/v1/validators', '/v1/validators'],
      ['/status', '/status'],
    ] as const) {
      const r = await call('GET', path)
      expect(r.status, `${path}: ${JSON.stringify(r.json)}`).toBe(200)
      conforms(template, 'GET', r.status, r.json)
    }
    const batch = (await call('GET', `/v1/batches/${height}`)).json
    expect((batch.fills as Json[]).map((f) => f.orderId)).toContain(aliceId)
    expect((batch.prices as Json[]).length).toBe(2)
    const book = (await call('GET', `/v1/batches/${height}/book`)).json
    expect((book.orders as Json[]).map((o) => o.orderId)).toContain(aliceId)
    const life = (await call('GET', `/v1/orders/${aliceId}/life`)).json
    expect((life.steps as Json[]).filter((s) => s.done).map((s) => s.step)).toEqual([
      'submitted',
      'in batch',
      'unsealed',
      'filled',
    ])
    const [me] = (await call('GET', '/v1/validators')).json.validators as Json[]
    expect([me.self, me.up, me.inQuorum, me.lastSigned !== null, me.height !== null]).toEqual([
      true,
      true,
      true,
      true,
      true,
    ])
    const st = (await call('GET', '/status')).json
    expect(st.inResultQuorum).toBe(true)
    expect(BigInt(st.finalized as string)).toBeGreaterThanOrEqual(BigInt(height))

    // Errors validate too: an unknown batch, and this network's missing sealing keys.
    const gone = await call('GET', '/v1/batches/999999')
    expect([gone.status, gone.json.code]).toEqual([404, 'BATCH_NOT_FOUND'])
    conforms('/v1/batches/{height}', 'GET', gone.status, gone.json)
    const key = await call('GET', `/v1/batches/${height}/key`)
    expect(key.json.code).toBe('BATCH_KEY_UNKNOWN')
    conforms('/v1/batches/{height}/key', 'GET', key.status, key.json)

    // The batch stream delivers the next finalized batch.
    const [next] = await events('/v1/stream/batches', 'batch', 1)
    expect(checkSchema(next, { $ref: '#/components/schemas/BatchView' }, doc.components.schemas)).toEqual([])
  }, 60_000)
})

describe('bad input', () => {
  it('refuses oversized bodies with 413 WIRE_TOO_LARGE, declared or streamed', async () => {
    const big = JSON.stringify({ envelope: `0x${'00'.repeat(600_000)}` })
    const r = await call('POST', '/v1/orders', undefined, big)
    expect([r.status, r.json.code]).toEqual([413, 'WIRE_TOO_LARGE'])
    // Without a content-length (a chunked stream): counted as it arrives.
    const chunks = new ReadableStream({
      start(c) {
        for (let k = 0; k < 40; k++) c.enqueue(new TextEncoder().encode('x'.repeat(1024)))
        c.close()
      },
    })
    const res = await fetch(`${base}/v1/orders/${'0x'}${'11'.repeat(32)}/cancel`, {
      method: 'POST',
      body: chunks,
      duplex: 'half',
    } as RequestInit)
    expect([res.status, ((await res.json()) as Json).code]).toEqual([413, 'WIRE_TOO_LARGE'])
    // submitMany takes a p2p frame's worth (here ~200 kB of hex, ten times a single order's bound); each
    // envelope is then judged on its own (junk bytes: WIRE_MALFORMED each).
    const ok = await call('POST', '/v1/orders/many', {
      envelopes: Array.from({ length: 200 }, () => `0x${'ff'.repeat(500)}`),
    })
    expect(ok.status, JSON.stringify(ok.json).slice(0, 300)).toBe(200)
    expect(new Set((ok.json.results as Json[]).map((o) => o.code))).toEqual(new Set(['WIRE_MALFORMED']))
  })

  it('refuses junk JSON and malformed fields with 400 and the p2p API’s codes', async () => {
    for (const junk of ['{', 'not json', '{"envelope": 0x12}', '\u0000\u0001']) {
      const r = await call('POST', '/v1/orders', undefined, junk)
      expect([r.status, r.json.code], junk).toEqual([400, 'WIRE_MALFORMED'])
    }
    for (const body of [
      [],
      'a string',
      null,
      { envelope: 12 },
      { envelope: '0xzz' },
      { envelope: '0x123' },
    ]) {
      const r = await call('POST', '/v1/orders', body)
      expect([r.status, r.json.code], JSON.stringify(body)).toEqual([400, 'WIRE_MALFORMED'])
    }
    expect((await call('GET', '/v1/orders/0x1234')).json.code).toBe('WIRE_MALFORMED')
    expect((await call('GET', '/v1/balances/nonsense')).json.code).toBe('WIRE_MALFORMED')
    expect((await call('GET', '/v1/batches/-1')).json.code).toBe('WIRE_MALFORMED')
    expect((await call('GET', '/v1/batches/99999999999999999999999')).json.code).toBe('WIRE_MALFORMED')
    const badCancel = await call('POST', `/v1/orders/0x${'11'.repeat(32)}/cancel`, {
      trader: 'me',
      signature: {},
    })
    expect([badCancel.status, badCancel.json.code]).toEqual([400, 'WIRE_MALFORMED'])

    // The same bytes get the same code over HTTP as over the p2p API's handler.
    const i = await info()
    const good = envelopeHex(i, bob, {
      sell: 'TKB',
      sellAmount: E18,
      buy: 'TKA',
      buyAmount: E18,
      batch: i.openBatch + 50n,
    })
    const forged = `${good.slice(0, -4)}${good.slice(-4, -2) === '00' ? '01' : '00'}${good.slice(-2)}` as Hex
    const overHttp = await call('POST', '/v1/orders', { envelope: forged })
    const bytes = Buffer.from(forged.slice(2), 'hex')
    const frame = new Uint8Array(bytes.length + 1)
    frame.set(bytes, 1)
    const direct = decodeApiResponse(
      (await running.node.apiHandler(frame, {
        peer: 'test',
        signal: new AbortController().signal,
      })) as Uint8Array,
    )
    expect(direct.kind).toBe('error')
    expect(overHttp.json.code).toBe((direct as { code: string }).code)
    expect(overHttp.status).toBe(400)
    // A well-formed request the p2p codec refuses is refused alike.
    expect(() => encodeApiRequest({ kind: 'status', orderId: '0x12' as Hex })).toThrow(/WIRE_MALFORMED/)
    // Nothing was lost: the good order still goes in afterwards.
    const r = await call('POST', '/v1/orders', { envelope: good })
    expect(r.status, JSON.stringify(r.json)).toBe(200)
  })

  it('limits each client’s rate (429 API_RATE_LIMITED) and streams, keeps serving; loopback, CORS as configured', async () => {
    // Other gateways on the same node with tight limits, so the flood is deterministic.
    const deps = {
      api: running.node.apiHandler,
      storage: running.node.storage,
      genesis: running.node.genesis,
      progress: running.progress,
      peers: () => [],
      selfPeerId: running.node.peerId,
    }
    const g = new Gateway(deps, { port: 0, ratePerSecond: 5, rateBurst: 20 })
    const streams = new Gateway(deps, { port: 0, maxStreamsPerClient: 2 })
    await g.start()
    await streams.start()
    const ctrl = new AbortController()
    try {
      const flood = await Promise.all(Array.from({ length: 100 }, () => fetch(`${g.url}/health`)))
      const ok = flood.filter((r) => r.status === 200).length
      // The burst, plus what refilled while the flood was under way (5/s).
      expect(ok).toBeGreaterThanOrEqual(20)
      expect(ok).toBeLessThan(40)
      const limited = flood.filter((r) => r.status === 429)
      expect(limited.length).toBe(100 - ok)
      expect(((await limited[0].json()) as Json).code).toBe('API_RATE_LIMITED')
      await Promise.all(flood.map((r) => (r.bodyUsed ? undefined : r.body?.cancel())))
      // Tokens come back with time: wait for one, not a fixed sleep.
      await waitFor(async () => (await fetch(`${g.url}/health`)).status === 200, 5_000, 'a token back')

      // Streams per client: two may be open, a third is refused with its code.
      const s1 = await fetch(`${streams.url}/v1/stream/batches`, { signal: ctrl.signal })
      const s2 = await fetch(`${streams.url}/v1/stream/batches`, { signal: ctrl.signal })
      const s3 = await fetch(`${streams.url}/v1/stream/batches`, { signal: ctrl.signal })
      expect([s1.status, s2.status, s3.status]).toEqual([200, 200, 429])
      expect(((await s3.json()) as Json).message).toMatch(/streams per client/)
    } finally {
      ctrl.abort()
      await g.stop()
      await streams.stop()
    }
    // Loopback by default; CORS only for the origins configured.
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const cors = new Gateway(deps, { port: 0, corsOrigins: ['http://wallet.example'] })
    await cors.start()
    try {
      const pre = await fetch(`${cors.url}/v1/orders`, {
        method: 'OPTIONS',
        headers: { origin: 'http://wallet.example', 'access-control-request-method': 'POST' },
      })
      expect(pre.status).toBe(204)
      expect(pre.headers.get('access-control-allow-origin')).toBe('http://wallet.example')
      const other = await fetch(`${cors.url}/health`, { headers: { origin: 'http://elsewhere.example' } })
      expect(other.headers.get('access-control-allow-origin')).toBeNull()
      // The node's gateway allows no other origin at all.
      const none = await fetch(`${base}/health`, { headers: { origin: 'http://wallet.example' } })
      expect(none.headers.get('access-control-allow-origin')).toBeNull()
    } finally {
      await cors.stop()
    }
    // The node's own gateway was never limited by the other's flood.
    expect((await call('GET', '/health')).status).toBe(200)
  })
})
