import { setMaxListeners } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AllotError, type BatchView, decodeApiResponse, encodeApiRequest, type Hex } from '@allot/protocol'
import type { Logger } from 'pino'
import { EXPLORER_ASSETS } from './explorer/index.js'
import { openApiDocument } from './openapi.js'
import { GATEWAY_DEFAULTS, type GatewayOptions } from './options.js'
import { RateLimiter } from './rate.js'
import { callApi, type GatewayDeps, ROUTES, type Route, statusOf } from './routes.js'

/** JSON with bigints as decimal strings (STYLE.md "Data"). */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))
}

/** The HTTP status an error code answers with; the code itself is in the body. */
export function httpStatusOf(code: string): number {
  if (code === 'WIRE_TOO_LARGE') return 413
  if (code.endsWith('RATE_LIMITED')) return 429
  if (code.endsWith('_NOT_FOUND') || code === 'BATCH_KEY_UNKNOWN') return 404
  if (code === 'API_METHOD_NOT_ALLOWED') return 405
  if (code === 'ORDER_DUPLICATE') return 409
  if (code === 'API_TIMEOUT') return 504
  if (code === 'API_UNAVAILABLE' || code === 'NODE_STOPPING' || code === 'ORDER_MEMPOOL_FULL') return 503
  if (code === 'API_INTERNAL') return 500
  return 400
}

interface Matched {
  route: Route
  params: Record<string, string>
}

const compiled = ROUTES.map((route) => {
  const names: string[] = []
  const re = new RegExp(
    `^${route.path.replace(/\{(\w+)\}/g, (_m, n: string) => {
      names.push(n)
      return '([^/]+)'
    })}$`,
  )
  return { route, re, names }
})

function pathSegment(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    throw new AllotError('WIRE_MALFORMED', `bad escape in the path: ${s.slice(0, 80)}`)
  }
}

function match(method: string, path: string): Matched | 'method' | undefined {
  let other = false
  for (const c of compiled) {
    const m = c.re.exec(path)
    if (!m) continue
    if (c.route.method !== method) {
      other = true
      continue
    }
    const params: Record<string, string> = {}
    for (let i = 0; i < c.names.length; i++) params[c.names[i]] = pathSegment(m[i + 1])
    return { route: c.route, params }
  }
  return other ? 'method' : undefined
}

/**
 * The node's HTTP/JSON gateway (issue 22): the p2p API's operations over HTTP through the node's own API
 * handler (same validation, same error codes), `/openapi.json`, `/health`, `/status`, event streams (SSE) of
 * finalized batches and of one order's status, and the explorer page at `/`. Bodies are bounded (413
 * `WIRE_TOO_LARGE`), clients rate-limited (429 `API_RATE_LIMITED`), junk JSON refused (400 `WIRE_MALFORMED`).
 */
export class Gateway {
  private server: Server | undefined
  private readonly limiter: RateLimiter
  private readonly streams = new Map<string, number>()
  private readonly stopping = new AbortController()
  private sweepTimer: NodeJS.Timeout | undefined
  private settledPoll: NodeJS.Timeout | undefined
  /** Settlement status of recent batches, to tell streams when a batch settles. */
  private readonly settledSeen = new Map<bigint, string>()
  private readonly settlementListeners = new Set<(v: BatchView) => void>()
  private readonly o: Required<Omit<GatewayOptions, 'corsOrigins'>> & { corsOrigins: string[] }
  private readonly openapi: string

  constructor(
    private readonly d: GatewayDeps,
    o: GatewayOptions,
    private readonly logger?: Logger,
  ) {
    this.o = {
      port: o.port,
      host: o.host ?? GATEWAY_DEFAULTS.host,
      corsOrigins: o.corsOrigins ?? [],
      ratePerSecond: o.ratePerSecond ?? GATEWAY_DEFAULTS.ratePerSecond,
      rateBurst: o.rateBurst ?? GATEWAY_DEFAULTS.rateBurst,
      maxStreamsPerClient: o.maxStreamsPerClient ?? GATEWAY_DEFAULTS.maxStreamsPerClient,
      requestTimeoutMs: o.requestTimeoutMs ?? GATEWAY_DEFAULTS.requestTimeoutMs,
    }
    this.limiter = new RateLimiter({
      perSecond: this.o.ratePerSecond,
      burst: this.o.rateBurst,
      idleMs: GATEWAY_DEFAULTS.rateIdleMs,
    })
    this.openapi = toJson(openApiDocument())
    // Every request in flight and every open stream listens to it.
    setMaxListeners(Number.POSITIVE_INFINITY, this.stopping.signal)
  }

  /** The base URL once started (`http://host:port`). */
  get url(): string {
    const a = this.server?.address() as AddressInfo | null
    if (!a) throw new AllotError('API_UNAVAILABLE', 'the gateway is not listening')
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address
    return `http://${host}:${a.port}`
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.serve(req, res))
    server.requestTimeout = this.o.requestTimeoutMs
    server.headersTimeout = this.o.requestTimeoutMs
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    // What a stream's `batch` event said of each batch's settlement: a change since is a `settlement` event.
    this.d.storage.on('finalized', this.onFinalized)
    this.sweepTimer = setInterval(() => this.limiter.sweep(), GATEWAY_DEFAULTS.rateIdleMs)
    this.sweepTimer.unref()
    this.settledPoll = setInterval(
      () =>
        void this.pollSettlements().catch((e) =>
          this.logger?.debug({ err: e }, 'gateway settlement poll failed'),
        ),
      Math.max(250, Math.min(2000, this.d.genesis.batchIntervalMs)),
    )
    this.settledPoll.unref()
    this.logger?.info({ http: this.url }, 'gateway listening')
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer)
    clearInterval(this.settledPoll)
    this.d.storage.off('finalized', this.onFinalized)
    this.stopping.abort()
    const s = this.server
    this.server = undefined
    if (!s) return
    await new Promise<void>((resolve) => {
      s.close(() => resolve())
      s.closeAllConnections()
    })
  }

  private cors(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin
    if (!origin || this.o.corsOrigins.length === 0) return
    if (this.o.corsOrigins.includes('*')) res.setHeader('access-control-allow-origin', '*')
    else if (this.o.corsOrigins.includes(origin)) {
      res.setHeader('access-control-allow-origin', origin)
      res.setHeader('vary', 'origin')
    } else return
    res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS')
    res.setHeader('access-control-allow-headers', 'content-type')
  }

  private send(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
    if (res.headersSent) {
      res.end()
      return
    }
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body)
  }

  private fail(res: ServerResponse, e: unknown): void {
    const code = e instanceof AllotError ? e.code : 'API_INTERNAL'
    const message = (e instanceof Error ? e.message : String(e)).replace(`${code}: `, '').slice(0, 1000)
    if (code === 'API_INTERNAL') this.logger?.warn({ err: e }, 'gateway request failed')
    this.send(res, httpStatusOf(code), toJson({ code, message }))
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const client = req.socket.remoteAddress ?? 'unknown'
    try {
      this.cors(req, res)
      if (req.method === 'OPTIONS') {
        res.writeHead(204).end()
        return
      }
      if (!this.limiter.take(client))
        throw new AllotError(
          'API_RATE_LIMITED',
          `more than ${this.o.ratePerSecond} requests/s from ${client}`,
        )
      const url = new URL(req.url ?? '/', 'http://gateway')
      const path = url.pathname
      if (req.method === 'GET') {
        if (path === '/health') return this.send(res, 200, toJson({ ok: true }))
        if (path === '/status') return this.send(res, 200, toJson(await statusOf(this.d)))
        if (path === '/openapi.json') return this.send(res, 200, this.openapi)
        if (path === '/v1/stream/batches') return this.streamBatches(res, client)
        const order = /^\/v1\/stream\/orders\/([^/]+)$/.exec(path)
        if (order) return await this.streamOrder(res, client, pathSegment(order[1]) as Hex)
        const asset = EXPLORER_ASSETS[path === '/' ? '/index.html' : path]
        if (asset) return this.send(res, 200, asset.body(), asset.type)
      }
      const m = match(req.method ?? 'GET', path)
      if (m === 'method') throw new AllotError('API_METHOD_NOT_ALLOWED', `${req.method} ${path}`)
      if (!m) throw new AllotError('API_NOT_FOUND', `no route ${req.method} ${path}`)
      const body =
        m.route.method === 'POST'
          ? await readJson(req, m.route.maxBodyBytes ?? GATEWAY_DEFAULTS.maxBodyBytes)
          : undefined
      const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.o.requestTimeoutMs)])
      const out = await m.route.handle(this.d, {
        params: m.params,
        query: url.searchParams,
        body,
        client,
        signal,
      })
      this.send(res, 200, toJson(out))
    } catch (e) {
      this.fail(res, e)
    }
  }

  /** Opens an event stream if the client may hold another; returns its closer, or throws 429. */
  private openStream(res: ServerResponse, client: string): AbortSignal {
    const n = this.streams.get(client) ?? 0
    if (n >= this.o.maxStreamsPerClient)
      throw new AllotError('API_RATE_LIMITED', `at most ${this.o.maxStreamsPerClient} streams per client`)
    this.streams.set(client, n + 1)
    const closed = new AbortController()
    const done = () => {
      if (closed.signal.aborted) return
      closed.abort()
      const left = (this.streams.get(client) ?? 1) - 1
      if (left <= 0) this.streams.delete(client)
      else this.streams.set(client, left)
    }
    res.on('close', done)
    const onStop = () => {
      done()
      res.end()
    }
    this.stopping.signal.addEventListener('abort', onStop, { once: true })
    closed.signal.addEventListener('abort', () => this.stopping.signal.removeEventListener('abort', onStop))
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    })
    res.write('retry: 2000\n\n')
    const beat = setInterval(() => res.write(': keep-alive\n\n'), GATEWAY_DEFAULTS.streamHeartbeatMs)
    closed.signal.addEventListener('abort', () => clearInterval(beat))
    return closed.signal
  }

  /**
   * `batch` events: each finalized batch, from the p2p API's own `watchBatches` stream; `settlement`
   * events: a batch seen settled (or voided) on chain since.
   */
  private streamBatches(res: ServerResponse, client: string): void {
    const signal = this.openStream(res, client)
    const onSettled = (v: BatchView) => res.write(`event: settlement\ndata: ${toJson(v)}\n\n`)
    this.settlementListeners.add(onSettled)
    signal.addEventListener('abort', () => this.settlementListeners.delete(onSettled))
    void (async () => {
      const frames = await this.d.api(encodeApiRequest({ kind: 'watchBatches' }), {
        peer: `http:${client}`,
        signal,
      })
      if (frames instanceof Uint8Array) return
      for await (const f of frames) {
        const r = decodeApiResponse(f)
        if (r.kind === 'batch') res.write(`event: batch\ndata: ${toJson(r.batch)}\n\n`)
      }
    })().catch((e) => this.logger?.debug({ err: e }, 'batch stream ended'))
  }

  /** `status` events: the order's status each time it changes (checked at each finalized batch and each interval). */
  private async streamOrder(res: ServerResponse, client: string, id: Hex): Promise<void> {
    const ctx = { client, signal: this.stopping.signal }
    // The first status is read before the stream opens, so an unknown or malformed id is a plain error answer.
    const first = await callApi(this.d, { kind: 'status', orderId: id }, ctx)
    const signal = this.openStream(res, client)
    let last = ''
    const emit = (s: unknown) => {
      const json = toJson(s)
      if (json === last) return
      last = json
      res.write(`event: status\ndata: ${json}\n\n`)
    }
    if (first.kind === 'status') emit(first.status)
    const check = () =>
      void callApi(this.d, { kind: 'status', orderId: id }, ctx)
        .then((r) => r.kind === 'status' && !signal.aborted && emit(r.status))
        .catch((e) => this.logger?.debug({ err: e }, 'order stream check failed'))
    const t = setInterval(check, Math.max(250, Math.min(1000, this.d.genesis.batchIntervalMs)))
    this.d.storage.on('finalized', check)
    signal.addEventListener('abort', () => {
      clearInterval(t)
      this.d.storage.off('finalized', check)
    })
  }

  private readonly onFinalized = (v: BatchView): void => {
    this.settledSeen.set(v.height, v.settlement?.status ?? '')
    // Oldest first (insertion order): only recent batches are watched.
    for (const h of this.settledSeen.keys()) if (this.settledSeen.size > 64) this.settledSeen.delete(h)
  }

  /** Batches finalized recently whose settlement status changed since streams were told of them. */
  private async pollSettlements(): Promise<void> {
    if (this.settlementListeners.size === 0) return
    for await (const [h, v] of this.d.storage.results.entries({ reverse: true, limit: 32 })) {
      const s = v.settlement?.status ?? ''
      const seen = this.settledSeen.get(h)
      if (seen === undefined) continue // finalized before this gateway started: streams never told of it
      this.settledSeen.set(h, s)
      if (seen !== undefined && seen !== s) for (const l of this.settlementListeners) l(v)
    }
  }
}

/**
 * The body as JSON, at most `max` bytes (413 `WIRE_TOO_LARGE`); junk is 400 `WIRE_MALFORMED`. An oversized
 * body is read to its end and dropped, so the client reads the 413 rather than a reset while it still
 * writes; one past `DRAIN_MAX_BYTES` loses its connection.
 */
function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0)
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = declared > max
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > max) tooLarge = true
      if (size > DRAIN_MAX_BYTES) req.socket.destroy()
      if (!tooLarge) chunks.push(c)
    })
    req.on('error', reject)
    req.on('end', () => {
      if (tooLarge)
        return reject(
          new AllotError('WIRE_TOO_LARGE', `body of ${Math.max(size, declared)} bytes, at most ${max}`),
        )
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      } catch (e) {
        reject(
          new AllotError('WIRE_MALFORMED', `the body is not JSON: ${(e as Error).message}`.slice(0, 200)),
        )
      }
    })
  })
}

/** Past this, an oversized body is not drained: its connection is closed. */
const DRAIN_MAX_BYTES = 8 * 1024 * 1024
