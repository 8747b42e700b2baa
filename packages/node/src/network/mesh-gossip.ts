import type { GossipSub } from '@chainsafe/libp2p-gossipsub'

/** What gossipsub 14 keeps that the heartbeat's IHAVE emission reads (none of it exported). */
interface MeshGossipInternals {
  /** topic → peers in our mesh for it. */
  mesh: Map<string, Set<string>>
  mcache: { getGossipIDs(topics: Set<string>): Map<string, Uint8Array[]> }
  /** peer id → message id → heartbeat it arrived in. */
  idontwants: Map<string, Map<string, number>>
  streamsOutbound: Map<string, unknown>
  score: { score(peer: string): number }
  opts: { scoreThresholds: { gossipThreshold: number } }
  msgIdToStrFn(id: Uint8Array): string
  pushGossip(peer: string, ihave: { topicID: string; messageIDs: Uint8Array[] }): void
  emitGossip(peersToGossipByTopic: Map<string, Set<string>>): void
}

const PATCHED = Symbol('allot.meshGossip')
/** gossipsub's GossipsubMaxIHaveLength: a receiver asks for at most this many ids per heartbeat. */
const MAX_IHAVE_LENGTH = 5000

/**
 * Sends each heartbeat's IHAVE (the ids of the last `mcacheGossip` heartbeats' messages) to our mesh
 * peers too, not only to non-mesh peers as gossipsub does.
 *
 * gossipsub forwards an accepted message to the mesh of that moment and repairs losses by IHAVE/IWANT,
 * but it advertises only to peers outside the mesh, on the assumption that mesh peers got the message
 * through the mesh. That fails in two measured ways (issue 25, the 16-node test): a message accepted
 * before the heartbeat has built the mesh (just after connecting, or after churn) is forwarded to the
 * few mesh peers of that moment, and a forward that is dropped (`OutboundStream buffer full` in a burst)
 * is simply gone. In an overlay where a node's peers all fit in its mesh (degree ≤ D, as in small
 * validator networks and the 16-node ring of degree 6) there is no peer outside the mesh left to
 * advertise to, so nothing ever repaired it: two-hop nodes ended with 18–22 of 24 orders for good.
 *
 * With this, a peer that lacks a message still in our gossip window asks for it (IWANT) at our next
 * heartbeat. Peers that sent IDONTWANT for an id (they have it) are not told of it; the rest filter the
 * ids through their seen cache, which costs a lookup per id.
 */
export function gossipToMeshPeers(pubsub: GossipSub): void {
  const g = pubsub as unknown as MeshGossipInternals & { [PATCHED]?: true }
  if (
    g[PATCHED] ||
    !(g.mesh instanceof Map) ||
    typeof g.emitGossip !== 'function' ||
    typeof g.pushGossip !== 'function' ||
    typeof g.mcache?.getGossipIDs !== 'function'
  )
    return // another gossipsub version: leave it as it is
  g[PATCHED] = true
  const emit = g.emitGossip.bind(pubsub)
  g.emitGossip = (peersToGossipByTopic) => {
    emit(peersToGossipByTopic)
    const topics = new Set<string>()
    for (const [topic, peers] of g.mesh) if (peers.size > 0) topics.add(topic)
    if (topics.size === 0) return
    const idsByTopic = g.mcache.getGossipIDs(topics)
    const threshold = g.opts.scoreThresholds.gossipThreshold
    for (const [topic, ids] of idsByTopic) {
      if (ids.length === 0) continue
      const strs = ids.map((id) => g.msgIdToStrFn(id))
      for (const peer of g.mesh.get(topic) ?? []) {
        if (!g.streamsOutbound.has(peer) || g.score.score(peer) < threshold) continue
        const has = g.idontwants.get(peer)
        const messageIDs: Uint8Array[] = []
        for (let i = 0; i < ids.length && messageIDs.length < MAX_IHAVE_LENGTH; i++) {
          if (!has?.has(strs[i])) messageIDs.push(ids[i])
        }
        if (messageIDs.length > 0) g.pushGossip(peer, { topicID: topic, messageIDs })
      }
    }
  }
}
