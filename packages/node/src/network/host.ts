import { LIMITS } from '@allot/protocol'
import { type GossipSub, gossipsub } from '@chainsafe/libp2p-gossipsub'
import { createPeerScoreParams, createTopicScoreParams } from '@chainsafe/libp2p-gossipsub/score'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { sha256 } from '@noble/hashes/sha2.js'
import { createLibp2p, type Libp2p } from 'libp2p'

export type AllotHost = Libp2p<{
  pubsub: GossipSub
  identify: ReturnType<ReturnType<typeof identify>>
  ping: ReturnType<ReturnType<typeof ping>>
}>

export interface HostOptions {
  privateKey: PrivateKey
  listen: string[]
  bootstrap?: string[]
  /** Topics that get score parameters (rejected messages count against the sender). */
  topics: string[]
  /** Tests and devnets put every node on 127.0.0.1: do not penalise IP co-location. */
  allowColocation?: boolean
  /** Inbound connections accepted per second per remote IP (default 100). */
  inboundConnectionsPerSecond?: number
}

/**
 * The libp2p host: TCP + noise + yamux, identify, ping, bootstrap, and gossipsub with
 * StrictNoSign and message id = sha256(payload) (messages carry their own application
 * signatures; DESIGN.md "Stack"). Parameters suit 4 to a few dozen nodes.
 */
export async function createHost(o: HostOptions): Promise<AllotHost> {
  const topicParams = createTopicScoreParams({
    topicWeight: 1,
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
    topics: Object.fromEntries(o.topics.map((t) => [t, topicParams])),
    IPColocationFactorWeight: o.allowColocation ? 0 : -10,
    IPColocationFactorThreshold: 10,
    behaviourPenaltyWeight: -1,
    behaviourPenaltyDecay: 0.9,
    appSpecificScore: () => 0,
  })
  const peerDiscovery =
    o.bootstrap && o.bootstrap.length > 0 ? [bootstrap({ list: o.bootstrap, timeout: 100 })] : []
  return createLibp2p({
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
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: (msg) => sha256(msg.data),
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
  }) as Promise<AllotHost>
}
