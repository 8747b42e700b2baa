import { setMaxListeners } from 'node:events'
import { AllotError, uninitializedBytes } from '@allot/protocol'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import * as lp from 'it-length-prefixed'

/** What a request handler answers: one frame, or a stream of frames (server streaming). */
export type ResponseFrames = Uint8Array | AsyncIterable<Uint8Array>

export interface RequestContext {
  peer: string
  /** Aborted when the deadline passes or the node stops. */
  signal: AbortSignal
}

export interface ProtocolOptions {
  /** Largest request frame; a longer (or lying) length prefix is refused before reading it. */
  maxRequestBytes: number
  /** Time to receive the request and produce the (first) response. */
  deadlineMs: number
  /** Concurrent streams per connection for this protocol. */
  maxInboundStreams?: number
  /** Encodes a coded error as this protocol's error response. */
  errorFrame(code: string, message: string): Uint8Array
  /** The code an answer carries, if it is an error frame (for metrics); default: none. */
  codeOf?(frame: Uint8Array): string | undefined
  /** A session stream with no new request for this long is closed (default 30 s). */
  sessionIdleMs?: number
  /** Requests of one session answered concurrently (answers stay in order). */
  readAhead?: number
  /**
   * Request bytes one session may hold read but not yet answered (at least one frame is always
   * read): with frames up to `maxRequestBytes` (256 KiB for the API's submitMany), `readAhead` alone
   * would let each stream pin 32 × that. Default 256 KiB.
   */
  readAheadBytes?: number
  /** Told of every request's outcome (for metrics and logs). */
  onOutcome?(code: string, ms: number): void
}

/** Frames as it-length-prefixed writes them (unsigned varint length, then the bytes), in one buffer. */
export function lengthPrefixed(frames: Uint8Array[]): Uint8Array {
  let size = 0
  for (const f of frames) size += varintLength(f.length) + f.length
  const out = uninitializedBytes(size)
  let at = 0
  for (const f of frames) {
    let n = f.length
    while (n >= 0x80) {
      out[at++] = (n & 0x7f) | 0x80
      n = Math.floor(n / 128)
    }
    out[at++] = n
    out.set(f, at)
    at += f.length
  }
  return out
}

function varintLength(n: number): number {
  let k = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    k++
  }
  return k
}

/** Maps stream/framing failures to stable codes. */
export function codeOfStreamError(e: unknown): AllotError {
  if (e instanceof AllotError) return e
  const name = (e as Error)?.name
  if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
    return new AllotError('WIRE_TOO_LARGE', 'frame longer than this protocol allows')
  }
  if (name === 'UnexpectedEOFError' || name === 'InvalidMessageLengthError') {
    return new AllotError('WIRE_MALFORMED', 'truncated frame')
  }
  if (name === 'AbortError' || name === 'TimeoutError')
    return new AllotError('API_TIMEOUT', 'deadline passed')
  return new AllotError('API_INTERNAL', (e as Error)?.message ?? String(e))
}

function withDeadline<T>(p: Promise<T>, ms: number, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new AllotError('API_TIMEOUT', `no answer within ${ms} ms`)), ms)
    const onAbort = () => reject(new AllotError('API_TIMEOUT', 'aborted'))
    signal?.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => {
      clearTimeout(t)
      signal?.removeEventListener('abort', onAbort)
    })
  })
}

/**
 * Registers a length-prefixed request/response protocol: one request frame (bounded), a deadline on
 * reading it and on answering, coded error frames for anything wrong, never an unhandled rejection.
 * Returns an unregister function that also aborts open streams (server-streaming watchers).
 */
export async function handleProtocol(
  host: Libp2p,
  protocol: string,
  handler: (req: Uint8Array, ctx: RequestContext) => Promise<ResponseFrames>,
  o: ProtocolOptions,
): Promise<() => Promise<void>> {
  const stop = new AbortController()
  // One listener per open stream: a busy node has hundreds.
  setMaxListeners(Number.POSITIVE_INFINITY, stop.signal)
  const open = new Set<Stream>()
  await host.handle(
    protocol,
    ({ stream, connection }) => {
      open.add(stream)
      void serve(stream, connection.remotePeer.toString()).finally(() => open.delete(stream))
    },
    { maxInboundStreams: o.maxInboundStreams ?? 32, maxOutboundStreams: 4 },
  )

  async function serve(stream: Stream, peer: string): Promise<void> {
    const ctl = new AbortController()
    setMaxListeners(Number.POSITIVE_INFINITY, ctl.signal)
    const onStop = () => ctl.abort()
    stop.signal.addEventListener('abort', onStop, { once: true })
    const idleMs = o.sessionIdleMs ?? 30_000
    const readAhead = o.readAhead ?? 32
    const readAheadBytes = o.readAheadBytes ?? 256 * 1024
    const outcome = (code: string, started: number) => o.onOutcome?.(code, Date.now() - started)

    // A stream is a session: request frames in, answers out in the same order. Up to `readAhead`
    // requests run at once (pipelining); a one-shot client just closes its side after one.
    type Slot = {
      done: Promise<ResponseFrames>
      started: number
      code: string
      bytes: number
      ready?: Uint8Array
    }
    const answer = (req: Uint8Array): Slot => {
      const slot: Slot = {
        done: Promise.resolve(new Uint8Array()),
        started: Date.now(),
        code: 'OK',
        bytes: req.length,
      }
      slot.done = withDeadline(handler(req, { peer, signal: ctl.signal }), o.deadlineMs, ctl.signal).then(
        (r) => {
          if (r instanceof Uint8Array) {
            try {
              slot.code = o.codeOf?.(r) ?? 'OK'
            } catch {}
            slot.ready = r
          }
          return r
        },
        (e) => {
          const err = codeOfStreamError(e)
          slot.code = err.code
          slot.ready = o.errorFrame(err.code, err.message.replace(`${err.code}: `, ''))
          return slot.ready
        },
      )
      return slot
    }

    /** Set when reading stopped on a framing error: the peer may still be writing what we no longer read. */
    let framingLost = false
    async function* responses(): AsyncGenerator<Uint8Array> {
      const frames = lp.decode(stream.source, { maxDataLength: o.maxRequestBytes })
      const queue: Slot[] = []
      let queuedBytes = 0
      const take = (): Slot | undefined => {
        const slot = queue.shift()
        if (slot) queuedBytes -= slot.bytes
        return slot
      }
      let ended = false
      let failure: Uint8Array | null = null
      let first = true
      const sig: { wake: (() => void) | null; room: (() => void) | null } = { wake: null, room: null }
      const reader = (async () => {
        try {
          for (;;) {
            while (queue.length >= readAhead || (queue.length > 0 && queuedBytes >= readAheadBytes))
              await new Promise<void>((r) => (sig.room = r))
            const started = Date.now()
            const next = await withDeadline(frames.next(), first ? o.deadlineMs : idleMs, ctl.signal)
            if (next.done) {
              if (first) {
                failure = o.errorFrame('API_BAD_REQUEST', 'no request frame')
                outcome('API_BAD_REQUEST', started)
              }
              break
            }
            first = false
            const slot = answer(next.value.subarray())
            queuedBytes += slot.bytes
            queue.push(slot)
            sig.wake?.()
          }
        } catch (e) {
          // Framing is lost (lying or truncated length, or no frame in time): say why once, then end.
          const err = codeOfStreamError(e)
          if (first || err.code !== 'API_TIMEOUT') {
            failure = o.errorFrame(err.code, err.message.replace(`${err.code}: `, ''))
            outcome(err.code, Date.now())
          }
          framingLost = err.code !== 'API_TIMEOUT'
        } finally {
          ended = true
          sig.wake?.()
        }
      })()
      try {
        for (;;) {
          while (queue.length === 0 && !ended) await new Promise<void>((r) => (sig.wake = r))
          sig.wake = null
          // The head leaves the queue (and its bytes the budget) once its answer is ready to go out.
          const slot = queue[0]
          if (!slot) break
          const r = await slot.done
          take()
          sig.room?.()
          sig.room = null
          outcome(slot.code, slot.started)
          if (r instanceof Uint8Array) {
            // Answers already computed behind this one share its write (one muxer frame, one
            // encryption, one socket write for a burst of pipelined requests).
            const batch = [r]
            while (queue[0]?.ready) {
              const next = take() as Slot
              outcome(next.code, next.started)
              batch.push(next.ready as Uint8Array)
            }
            // The reader may be waiting for room again (TypeScript narrowed `room` to null above).
            ;(sig.room as (() => void) | null)?.()
            sig.room = null
            yield lengthPrefixed(batch)
          } else {
            // A server stream (e.g. watchBatches) ends the session.
            for await (const f of r) yield lengthPrefixed([f])
            return
          }
        }
        if (failure) yield lengthPrefixed([failure])
        // After a framing error we read no more: a peer still writing (an over-long frame past the muxer's
        // window) would hang in its write for good. The refusal is written; reset the stream (while our
        // side is still open, so the reset goes out) so that its write ends at once.
        if (framingLost) stream.abort(new Error('framing lost: stream reset after the refusal'))
      } finally {
        ctl.abort()
        void reader
      }
    }

    try {
      await stream.sink(responses())
      await stream.close().catch(() => {})
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)))
    } finally {
      ctl.abort()
      stop.signal.removeEventListener('abort', onStop)
    }
  }

  return async () => {
    stop.abort()
    for (const s of open) s.abort(new Error('node stopping'))
    await host.unhandle(protocol).catch(() => {})
  }
}

export interface RequestOptions {
  deadlineMs: number
  maxResponseBytes: number
  signal?: AbortSignal
}

type Target = Multiaddr | PeerId

/** Sends one request frame and returns the one response frame. */
export async function request(
  host: Libp2p,
  target: Target,
  protocol: string,
  req: Uint8Array,
  o: RequestOptions,
): Promise<Uint8Array> {
  const signal = o.signal
    ? AbortSignal.any([o.signal, AbortSignal.timeout(o.deadlineMs)])
    : AbortSignal.timeout(o.deadlineMs)
  let stream: Stream
  try {
    stream = await host.dialProtocol(target, protocol, { signal })
  } catch (e) {
    throw new AllotError('API_UNAVAILABLE', `cannot reach ${target.toString()}: ${(e as Error).message}`)
  }
  try {
    await withDeadline(stream.sink(lp.encode([req])), o.deadlineMs, signal)
    const frames = lp.decode(stream.source, { maxDataLength: o.maxResponseBytes })
    const r = await withDeadline(frames.next(), o.deadlineMs, signal)
    if (r.done) throw new AllotError('API_UNAVAILABLE', 'stream closed without an answer')
    return r.value.subarray()
  } catch (e) {
    throw codeOfStreamError(e)
  } finally {
    stream.close().catch(() => stream.abort(new Error('closing')))
  }
}

/** Sends one request frame and yields response frames until the server ends the stream. */
export async function* requestStream(
  host: Libp2p,
  target: Target,
  protocol: string,
  req: Uint8Array,
  o: RequestOptions,
): AsyncGenerator<Uint8Array> {
  let stream: Stream
  try {
    stream = await host.dialProtocol(target, protocol, { signal: AbortSignal.timeout(o.deadlineMs) })
  } catch (e) {
    throw new AllotError('API_UNAVAILABLE', `cannot reach ${target.toString()}: ${(e as Error).message}`)
  }
  const onAbort = () => stream.abort(new Error('aborted'))
  o.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    await withDeadline(stream.sink(lp.encode([req])), o.deadlineMs)
    for await (const frame of lp.decode(stream.source, { maxDataLength: o.maxResponseBytes }))
      yield frame.subarray()
  } catch (e) {
    if (o.signal?.aborted) return
    throw codeOfStreamError(e)
  } finally {
    o.signal?.removeEventListener('abort', onAbort)
    stream.close().catch(() => stream.abort(new Error('closing')))
  }
}

/**
 * A client's long-lived stream to a request/response protocol: requests are written as they come
 * and answers arrive in the same order (the server pipelines up to its read-ahead). Saves a stream
 * negotiation per request.
 */
export class RequestSession {
  private readonly outgoing: Uint8Array[] = []
  private wakeWriter: (() => void) | null = null
  private readonly fifo: { resolve(b: Uint8Array): void; reject(e: unknown): void; settled: boolean }[] = []
  private ended = false

  private constructor(private readonly stream: Stream) {}

  static async open(
    host: Libp2p,
    target: Target,
    protocol: string,
    o: RequestOptions,
  ): Promise<RequestSession> {
    let stream: Stream
    try {
      stream = await host.dialProtocol(target, protocol, { signal: AbortSignal.timeout(o.deadlineMs) })
    } catch (e) {
      throw new AllotError('API_UNAVAILABLE', `cannot reach ${target.toString()}: ${(e as Error).message}`)
    }
    const s = new RequestSession(stream)
    s.run(o.maxResponseBytes)
    return s
  }

  get pending(): number {
    return this.fifo.length
  }
  get closed(): boolean {
    return this.ended
  }

  request(req: Uint8Array, deadlineMs: number): Promise<Uint8Array> {
    if (this.ended) return Promise.reject(new AllotError('API_UNAVAILABLE', 'session closed'))
    return new Promise<Uint8Array>((resolve, reject) => {
      const slot = {
        settled: false,
        resolve: (b: Uint8Array) => {
          if (slot.settled) return
          slot.settled = true
          clearTimeout(t)
          resolve(b)
        },
        reject: (e: unknown) => {
          if (slot.settled) return
          slot.settled = true
          clearTimeout(t)
          reject(e)
        },
      }
      // The slot stays queued after a timeout: its late answer must still be matched and dropped.
      const t = setTimeout(
        () => slot.reject(new AllotError('API_TIMEOUT', `no answer within ${deadlineMs} ms`)),
        deadlineMs,
      )
      this.fifo.push(slot)
      this.outgoing.push(req)
      this.wakeWriter?.()
    })
  }

  close(): void {
    this.fail(new AllotError('API_UNAVAILABLE', 'session closed'))
    this.wakeWriter?.()
  }

  private run(maxResponseBytes: number): void {
    const self = this
    // Every request queued since the last write goes out as one chunk of length-prefixed frames:
    // one muxer frame, one encryption, one socket write (and one window update from the receiver's
    // muxer) for a burst, not one per request. Callers that send their next request when an answer
    // arrives do so one after another within a turn of the event loop: wait for that turn to end.
    async function* writer(): AsyncGenerator<Uint8Array> {
      while (!self.ended) {
        while (self.outgoing.length === 0 && !self.ended)
          await new Promise<void>((r) => (self.wakeWriter = r))
        self.wakeWriter = null
        await new Promise((r) => setImmediate(r))
        if (self.outgoing.length > 0) yield lengthPrefixed(self.outgoing.splice(0))
      }
    }
    this.stream.sink(writer()).catch((e) => this.fail(codeOfStreamError(e)))
    void (async () => {
      try {
        for await (const frame of lp.decode(this.stream.source, { maxDataLength: maxResponseBytes })) {
          this.fifo.shift()?.resolve(frame.subarray())
        }
        this.fail(new AllotError('API_UNAVAILABLE', 'the node closed the session'))
      } catch (e) {
        this.fail(codeOfStreamError(e))
      }
    })()
  }

  private fail(e: AllotError): void {
    if (!this.ended) {
      this.ended = true
      this.stream.close().catch(() => this.stream.abort(new Error('closing')))
    }
    for (const slot of this.fifo.splice(0)) slot.reject(e)
  }
}
