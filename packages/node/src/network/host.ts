import { createHash } from 'node:crypto'
import { LIMITS } from '@allot/protocol'
import { type GossipSub, gossipsub } from '@chainsafe/libp2p-gossipsub'
import { createPeerScoreParams, createTopicScoreParams } from '@chainsafe/libp2p-gossipsub/score'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { identify } from '@libp2p/identify'
import { KEEP_ALIVE, type PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { coalesceGossipWrites } from './coalesce.js'
import { honourIdontwant } from './idontwant.js'
import { gossipToMeshPeers } from './mesh-gossip.js'

export type AllotHost = Libp2p<{
  pubsub: GossipSub
  identify: ReturnType<ReturnType<typeof identify>>
  ping: ReturnType<ReturnType<typeof ping>>
}>

export interface HostOptions {
  privateKey: PrivateKey
  listen: string[]
  bootstrap?: string[]
  /** Topics that get score parameters, with their weight (rejected messages count against the sender). */
  topics: { topic: string; weight: number }[]
  /** Tests and devnets put every node on 127.0.0.1: do not penalise IP co-location. */
  allowColocation?: boolean
  /** Inbound connections accepted per second per remote IP (default 100). */
  inboundConnectionsPerSecond?: number
  /** Write the gossip RPCs of one macrotask to a peer as one chunk (default true; see coalesce.ts). */
  coalesceGossipWrites?: boolean
  /** Never forward a message to a peer that sent IDONTWANT for it (default true; see idontwant.ts). */
  honourIdontwant?: boolean
  /** Advertise recent message ids (IHAVE) to mesh peers too, so a missed forward is repaired (default true; see mesh-gossip.ts). */
  gossipToMeshPeers?: boolean
}

/**
 * libp2p pings every connection each 10 s and by default aborts it when a ping fails: when it takes
 * longer than an adaptive timeout that shrinks to 5 s on a quiet loopback link, or when the previous
 * ping is still under way (one outbound ping stream per connection). A burst of gossip queues the
 * ping behind thousands of frames and a busy event loop answers late, so healthy peers were cut off
 * in the middle of a burst and, dialled once by hand or by bootstrap, never came back ("a second burst
 * never arrived", docs/node.md). We keep the pings (they measure `connection.rtt`) but never abort on
 * them: a peer that is gone shows as a socket error (reset, closed), and a slow peer is not a dead one.
 */
export const CONNECTION_MONITOR = {
  pingInterval: 10_000,
  abortConnectionOnPingFailure: false,
}

/**
 * sha256 of a gossip payload, the message id every copy is checked against (each node sees each
 * message from several peers): node:crypto's, ~9× noble's speed on an 8 kB order bundle, same bytes.
 */
export function messageId(data: Uint8Array): Uint8Array {
  const d = createHash('sha256').update(data).digest()
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
}

/**
 * The libp2p host: TCP + noise + yamux, identify, ping, bootstrap, and gossipsub with
 * StrictNoSign and message id = sha256(payload) (messages carry their own application
 * signatures; DESIGN.md "Stack"). Parameters suit 4 to a few dozen nodes.
 */
export async function createHost(o: HostOptions): Promise<AllotHost> {
  const topicParams = (weight: number) =>
    createTopicScoreParams({
      topicWeight: weight,
      // P4: rejected messages (squared, decaying) — the only thing we penalise; ignores cost nothing.
      invalidMessageDeliveriesWeight: -10,
      invalidMessageDeliveriesDecay: 0.9,
      // No mesh-delivery expectations: order flow is bursty, a quiet peer is not a bad one.
      timeInMeshWeight: 0,
      firstMessageDeliveriesWeight: 0,
      meshMessageDeliveriesWeight: 0,
      meshFailurePenaltyWeight: 0,
    })
  const scoreParams = createPeerScoreParams({
    topics: Object.fromEntries(o.topics.map((t) => [t.topic, topicParams(t.weight)])),
    IPColocationFactorWeight: o.allowColocation ? 0 : -10,
    IPColocationFactorThreshold: 10,
    behaviourPenaltyWeight: -1,
    behaviourPenaltyDecay: 0.9,
    appSpecificScore: () => 0,
  })
  const peerDiscovery =
    o.bootstrap && o.bootstrap.length > 0 ? [bootstrap({ list: o.bootstrap, timeout: 100 })] : []
  const host = (await createLibp2p({
    privateKey: o.privateKey,
    addresses: { listen: o.listen },
    // The transports' own @libp2p/interface copies differ in minor versions; their runtime contract is the same.
    transports: [tcp() as never],
    connectionEncrypters: [noise() as never],
    streamMuxers: [yamux() as never],
    peerDiscovery,
    // libp2p's default of 5 inbound connections per second per IP refuses bursts of API clients
    // (each CLI command is a connection) and co-located test nodes.
    connectionManager: {
      maxConnections: 256,
      inboundConnectionThreshold: o.inboundConnectionsPerSecond ?? 100,
      maxIncomingPendingConnections: 64,
    },
    connectionMonitor: CONNECTION_MONITOR,
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: (msg) => messageId(msg.data),
        fastMsgIdFn: undefined,
        asyncValidation: true,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        floodPublish: true,
        D: 6,
        Dlo: 4,
        Dhi: 12,
        Dout: 2,
        heartbeatInterval: 700,
        maxInboundDataLength: LIMITS.maxGossipBytes + 1024,
        scoreParams,
        scoreThresholds: { gossipThreshold: -50, publishThreshold: -80, graylistThreshold: -100 },
      }),
    },
  })) as AllotHost
  if (o.coalesceGossipWrites !== false) coalesceGossipWrites(host.services.pubsub)
  if (o.honourIdontwant !== false) honourIdontwant(host.services.pubsub)
  if (o.gossipToMeshPeers !== false) gossipToMeshPeers(host.services.pubsub)
  await keepAlive(host, o.bootstrap ?? [])
  return host
}

/**
 * Tags peers (multiaddrs ending in /p2p/<id>) keep-alive: libp2p redials them when their connection
 * drops (its reconnect queue: 5 tries, backing off), instead of leaving a validator cut off until
 * someone dials it again. Bootstrap peers get it at start; benchmarks and tests that dial by hand call it.
 */
export async function keepAlive(host: AllotHost, addrs: string[]): Promise<void> {
  for (const a of addrs) {
    const ma = multiaddr(a)
    const id = ma.getPeerId()
    if (!id || id === host.peerId.toString()) continue
    await host.peerStore.merge(peerIdFromString(id), {
      multiaddrs: [ma],
      tags: { [KEEP_ALIVE]: { value: 1 } },
    })
  }
}
