import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import {
  type Address,
  AllotError,
  checkSignatureShape,
  fromHex,
  keccak256Into,
  recoverAddress,
  type Signature,
  toHex,
  uninitializedBytes,
} from '@allot/protocol'
import { rawSignatureFault, signatureOf } from './envelope.js'

/**
 * One signature to check: the EIP-712 digest (computed on the main thread) and the signature, either
 * as the protocol's type or as r ‖ s ‖ v bytes (65) when the caller holds them (an envelope's last
 * 65 bytes): the worker pool takes those as they are instead of parsing hex.
 */
export type RecoveryJob =
  | { digest: Uint8Array; signature: Signature; raw?: undefined }
  | { digest: Uint8Array; raw: Uint8Array; signature?: undefined }

/**
 * Recovers signers of digests. The node's intake calls it for every envelope; implementations
 * differ only in speed and must agree exactly (tests compare each with noble's `recoverAddress`).
 */
export interface SignatureVerifier {
  /** One address per job, or null where the signature does not recover. Shape errors throw first. */
  recover(jobs: RecoveryJob[]): Promise<(Address | null)[]>
  close(): Promise<void>
}

/** The main-thread recovery function; swap in a faster backend (e.g. crypto's `recoverAddressFast`). */
export type RecoverFn = (digest: Uint8Array, sig: Signature) => Address

/** Recovers on the calling thread: for tests and tools, never for a node's gossip path. */
export function createInlineVerifier(recover: RecoverFn = (d, s) => recoverAddress(d, s)): SignatureVerifier {
  return {
    async recover(jobs) {
      return jobs.map((j) => {
        try {
          return recover(j.digest, j.signature ?? signatureOf(j.raw))
        } catch {
          return null
        }
      })
    },
    async close() {},
  }
}

export interface WorkerVerifierOptions {
  /** Worker threads; default: the cores the process has. */
  threads?: number
  /** 'noble' (reference) or 'native' (libsecp256k1 addon `secp256k1`). */
  backend?: 'noble' | 'native'
  /** Most signatures per message to a worker. */
  chunk?: number
}

interface Pending {
  jobs: RecoveryJob[]
  /** r ‖ s ‖ recovery bit per job, built (and checked) when queued so the flush cannot throw. */
  sigs: Uint8Array
  resolve: (r: (Address | null)[]) => void
  reject: (e: unknown) => void
}

/**
 * A small worker_threads pool. Jobs queued in one macrotask are packed into chunks and handed to
 * the least-loaded worker, so the event loop only hashes and copies bytes.
 */
export function createWorkerVerifier(opts: WorkerVerifierOptions = {}): SignatureVerifier {
  const threads = Math.max(1, opts.threads ?? availableParallelism())
  const chunk = opts.chunk ?? 64
  const url = new URL('./signature-worker.mjs', import.meta.url)
  const workers = Array.from({ length: threads }, () => {
    const w = new Worker(url, { workerData: { backend: opts.backend ?? 'noble' } })
    w.unref()
    return { w, load: 0 }
  })
  const inflight = new Map<number, { parts: { p: Pending; from: number; n: number }[]; worker: number }>()
  let nextId = 1
  // keccak256 of a recovered key, and its last 20 bytes (the address), reused for every result
  const hashed = new Uint8Array(32)
  const address = hashed.subarray(12)
  let queue: Pending[] = []
  let scheduled = false
  let closed = false

  for (const [i, { w }] of workers.entries()) {
    w.on('message', (m: { id: number; pubs: Uint8Array; ok: Uint8Array }) => {
      const job = inflight.get(m.id)
      if (!job) return
      inflight.delete(m.id)
      workers[i].load -= m.ok.length
      let k = 0
      for (const part of job.parts) {
        const out = (part.p as Pending & { out?: (Address | null)[]; left?: number })
          .out as (Address | null)[]
        for (let j = 0; j < part.n; j++, k++) {
          // The address is the last 20 bytes of keccak256(x ‖ y) of the recovered key.
          if (m.ok[k] !== 1) out[part.from + j] = null
          else {
            keccak256Into(m.pubs.subarray(64 * k, 64 * k + 64), hashed)
            out[part.from + j] = toHex(address) as Address
          }
        }
        const p = part.p as Pending & { left: number; out: (Address | null)[] }
        p.left -= part.n
        if (p.left === 0) p.resolve(p.out)
      }
    })
    w.on('error', (e) => {
      for (const [id, job] of inflight) {
        if (job.worker !== i) continue
        inflight.delete(id)
        for (const part of job.parts)
          part.p.reject(new AllotError('API_INTERNAL', `signature worker failed: ${e.message}`))
      }
    })
  }

  function flush(): void {
    scheduled = false
    const batch = queue
    queue = []
    let parts: { p: Pending; from: number; n: number }[] = []
    let size = 0
    const send = () => {
      if (size === 0) return
      const digests = uninitializedBytes(32 * size)
      const sigs = uninitializedBytes(65 * size)
      let k = 0
      for (const part of parts) {
        for (let j = 0; j < part.n; j++, k++) {
          const job = part.p.jobs[part.from + j]
          digests.set(job.digest, 32 * k)
          sigs.set(part.p.sigs.subarray(65 * (part.from + j), 65 * (part.from + j) + 65), 65 * k)
        }
      }
      let wi = 0
      for (let i = 1; i < workers.length; i++) if (workers[i].load < workers[wi].load) wi = i
      const id = nextId++
      inflight.set(id, { parts, worker: wi })
      workers[wi].load += size
      workers[wi].w.postMessage({ id, digests, sigs }, [digests.buffer, sigs.buffer])
      parts = []
      size = 0
    }
    for (const p of batch) {
      let from = 0
      while (from < p.jobs.length) {
        const n = Math.min(chunk - size, p.jobs.length - from)
        parts.push({ p, from, n })
        size += n
        from += n
        if (size >= chunk) send()
      }
    }
    send()
  }

  return {
    recover(jobs) {
      if (closed) return Promise.reject(new AllotError('API_UNAVAILABLE', 'verifier closed'))
      const sigs = new Uint8Array(65 * jobs.length)
      try {
        jobs.forEach((j, i) => {
          if (j.signature === undefined) {
            const fault = j.raw.length === 65 ? rawSignatureFault(j.raw) : 'signature must be 65 bytes'
            if (fault) throw new AllotError('ORDER_BAD_SIGNATURE', fault)
            for (let k = 0; k < 64; k++) sigs[65 * i + k] = j.raw[k]
            sigs[65 * i + 64] = j.raw[64] - 27
          } else {
            checkSignatureShape(j.signature, 'ORDER_BAD_SIGNATURE')
            sigs.set(fromHex(j.signature.r, 32, 'ORDER_BAD_SIGNATURE'), 65 * i)
            sigs.set(fromHex(j.signature.s, 32, 'ORDER_BAD_SIGNATURE'), 65 * i + 32)
            sigs[65 * i + 64] = j.signature.v - 27
          }
          if (!(j.digest instanceof Uint8Array) || j.digest.length !== 32)
            throw new AllotError('ORDER_BAD_SIGNATURE', 'bad digest')
        })
      } catch (e) {
        return Promise.reject(e)
      }
      if (jobs.length === 0) return Promise.resolve([])
      return new Promise((resolve, reject) => {
        const p = { jobs, sigs, resolve, reject, left: jobs.length, out: new Array(jobs.length).fill(null) }
        queue.push(p)
        if (!scheduled) {
          scheduled = true
          setImmediate(flush)
        }
      })
    },
    async close() {
      closed = true
      await Promise.all(workers.map(({ w }) => w.terminate()))
    },
  }
}
