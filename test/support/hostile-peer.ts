// A hostile libp2p peer for the multi-node tests (issue 24, "adversarial peer harness"): a bare host with
// the node's own gossipsub settings, subscribed to whatever topics it is told, that publishes whatever
// bytes it is handed and answers request/response protocols however the test likes. It runs no intake,
// no validation and no consensus: nothing it sends has been checked by anyone.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadOrCreatePeerKey } from '../../packages/node/src/config/index.js'
import type { AllotNode } from '../../packages/node/src/index.js'
import {
  type AllotHost,
  createHost,
  handleProtocol,
  messageId,
} from '../../packages/node/src/network/index.js'

export const hexId = (data: Uint8Array) => Buffer.from(messageId(data)).toString('hex')

export class HostilePeer {
  /** Message ids of everything this peer published, by topic. */
  readonly published = new Map<string, Set<string>>()
  /** Requests served per protocol, per asking peer. */
  readonly served = new Map<string, Map<string, number>>()
  private readonly unregister: (() => Promise<void>)[] = []

  private constructor(
    readonly name: string,
    readonly host: AllotHost,
    private readonly dir: string,
  ) {}

  /**
   * A host on a free loopback port subscribed to `topics`. Its network key is drawn afresh (libp2p's
   * own generator: the identity plays no part in what the tests check; everything it sends is seeded).
   */
  static async start(name: string, topics: string[]): Promise<HostilePeer> {
    const dir = mkdtempSync(join(tmpdir(), `allot-hostile-${name}-`))
    const host = await createHost({
      privateKey: await loadOrCreatePeerKey(dir),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      topics: topics.map((topic) => ({ topic, weight: 1 })),
      allowColocation: true,
    })
    for (const t of topics) host.services.pubsub.subscribe(t)
    return new HostilePeer(name, host, dir)
  }

  get peerId(): string {
    return this.host.peerId.toString()
  }

  async dial(nodes: AllotNode[]): Promise<void> {
    await Promise.all(nodes.map((n) => this.host.dial(n.host.getMultiaddrs()[0])))
  }

  /** Publishes and records the message id; a publish with nobody left to take it is not an error here. */
  async publish(topic: string, data: Uint8Array): Promise<void> {
    let ids = this.published.get(topic)
    if (!ids) this.published.set(topic, (ids = new Set()))
    ids.add(hexId(data))
    await this.host.services.pubsub.publish(topic, data).catch(() => {})
  }

  /** Answers `protocol` with `answer(request, peer)`, whatever it is (through the node's own framing). */
  async answer(protocol: string, answer: (req: Uint8Array, peer: string) => Uint8Array): Promise<void> {
    const count = new Map<string, number>()
    this.served.set(protocol, count)
    const un = await handleProtocol(
      this.host,
      protocol,
      async (req, ctx) => {
        count.set(ctx.peer, (count.get(ctx.peer) ?? 0) + 1)
        return answer(req, ctx.peer)
      },
      {
        maxRequestBytes: 1024 * 1024,
        deadlineMs: 10_000,
        maxInboundStreams: 64,
        errorFrame: () => new Uint8Array(0),
      },
    )
    this.unregister.push(un)
  }

  /** Requests served on `protocol` to `peer`. */
  servedTo(protocol: string, peer: string): number {
    return this.served.get(protocol)?.get(peer) ?? 0
  }

  /**
   * Opens `count` streams on `protocol` to `node` at once, each writing `frame` (raw bytes, e.g. a lying
   * length prefix); resolves with how each ended: 'answered' (a frame came back), 'closed' (the stream
   * ended without one), 'refused' (could not be opened, or was reset), or 'hanging' (none of these
   * within `hangMs`).
   */
  async flood(
    node: AllotNode,
    protocol: string,
    count: number,
    frame: Uint8Array,
    hangMs = 15_000,
  ): Promise<('answered' | 'closed' | 'refused' | 'hanging')[]> {
    const one = async () => {
      try {
        const stream = await this.host.dialProtocol(node.host.peerId, protocol, {
          maxOutboundStreams: count + 1,
        } as never)
        stream.sink([frame]).catch(() => {})
        for await (const chunk of stream.source) if (chunk.byteLength > 0) return 'answered' as const
        return 'closed' as const
      } catch {
        return 'refused' as const
      }
    }
    return Promise.all(
      Array.from({ length: count }, async () => {
        let timer: NodeJS.Timeout | undefined
        const hang = new Promise<'hanging'>((r) => {
          timer = setTimeout(() => r('hanging'), hangMs)
        })
        try {
          return await Promise.race([one(), hang])
        } finally {
          clearTimeout(timer)
        }
      }),
    )
  }

  async stop(): Promise<void> {
    for (const un of this.unregister.splice(0)) await un().catch(() => {})
    await this.host.stop()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** A varint length prefix announcing `n` bytes, with nothing after it (a lying frame). */
export function lyingPrefix(n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Uint8Array.from(out)
}
