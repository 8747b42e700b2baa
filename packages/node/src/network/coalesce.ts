import type { GossipSub } from '@chainsafe/libp2p-gossipsub'

/** What gossipsub 14's `OutboundStream` (not exported by the package) exposes to us. */
interface OutboundStreamLike {
  pushable: { push(chunk: Uint8Array): unknown; readableLength: number }
  maxBufferSize: number
  push(data: Uint8Array): void
  pushPrefixed(data: Uint8Array | Iterable<Uint8Array>): void
}

const COALESCED = Symbol('allot.coalesced')

/**
 * Coalesces the RPCs gossipsub writes to each peer during one macrotask into a single chunk.
 *
 * gossipsub sends every message as its own RPC, and each RPC goes down the stack alone: one yamux
 * frame, one noise encryption, one socket write, one window update and a dozen promises at the
 * receiver. With 300-byte orders that per-chunk cost is most of a node's gossip CPU (measured with
 * `--cpu-prof`, docs/node.md "Gossip throughput"). The bytes on the wire are unchanged — a stream of
 * varint-length-prefixed RPCs, which the receiver splits wherever the chunks end — so this is
 * invisible to peers; it only changes how many length-prefixed RPCs share a write.
 *
 * Chunks are flushed at the end of the macrotask (setImmediate) or once `maxChunkBytes` is reached,
 * so no RPC waits longer than the current turn of the event loop.
 */
export function coalesceGossipWrites(pubsub: GossipSub, maxChunkBytes = 64 * 1024): void {
  const streams = (pubsub as unknown as { streamsOutbound: Map<string, OutboundStreamLike> }).streamsOutbound
  if (!(streams instanceof Map)) return // another gossipsub version: leave it as it is
  for (const s of streams.values()) wrap(s, maxChunkBytes)
  const set = streams.set.bind(streams)
  streams.set = (id: string, s: OutboundStreamLike) => {
    wrap(s, maxChunkBytes)
    return set(id, s)
  }
}

function wrap(stream: OutboundStreamLike, maxChunkBytes: number): void {
  const s = stream as OutboundStreamLike & { [COALESCED]?: true }
  if (s[COALESCED] || typeof s.pushable?.push !== 'function') return
  s[COALESCED] = true
  let parts: Uint8Array[] = []
  let size = 0
  let scheduled = false

  const flush = (): void => {
    scheduled = false
    if (size === 0) return
    const out = new Uint8Array(size)
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    parts = []
    size = 0
    try {
      s.pushable.push(out)
    } catch {
      // The stream ended (peer gone) while the chunk waited: gossipsub drops such RPCs too.
    }
  }
  const add = (chunk: Uint8Array): void => {
    parts.push(chunk)
    size += chunk.length
    if (size >= maxChunkBytes) flush()
    else if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
  // Same back-pressure rule as gossipsub's own push: refuse once the stream's queue is over its bound.
  const checkRoom = (): void => {
    if (s.pushable.readableLength + size > s.maxBufferSize)
      throw new Error(`OutboundStream buffer full, size > ${s.maxBufferSize}`)
  }
  s.push = (data) => {
    checkRoom()
    add(varint(data.length))
    add(data)
  }
  s.pushPrefixed = (data) => {
    checkRoom()
    if (data instanceof Uint8Array) add(data)
    else for (const b of data) add(b)
  }
}

/** Unsigned LEB128, as it-length-prefixed writes lengths. */
function varint(n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Uint8Array.from(out)
}
