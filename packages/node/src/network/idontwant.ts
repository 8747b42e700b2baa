import type { GossipSub } from '@chainsafe/libp2p-gossipsub'

/** What gossipsub 14 keeps of the IDONTWANTs its peers sent, and the forward it does not filter by them. */
interface IdontwantInternals {
  /** peer id → message id → heartbeat it arrived in. */
  idontwants: Map<string, Map<string, number>>
  forwardMessage(
    msgIdStr: string,
    rawMsg: unknown,
    propagationSource?: string,
    excludePeers?: Set<string>,
  ): void
}

const HONOURED = Symbol('allot.idontwant')

/**
 * Stops gossipsub forwarding a message to peers that said they do not want it (gossipsub v1.2
 * IDONTWANT: "a node MUST NOT forward a message to a peer that sent IDONTWANT for it").
 *
 * gossipsub 14 sends IDONTWANT for every message of `idontwantMinDataSize` bytes or more as soon as it
 * sees it, and records the ones its peers send, but its `forwardMessage` never reads that record: every
 * mesh peer still gets the message after validation, though it already has it. In a full mesh of 4 that
 * is 6 of a bundle's 9 transmissions — each an encoding, an encryption, a socket write and a wake-up of
 * the peer's process, which then decrypts, decodes and hashes the bundle only to drop it as a duplicate.
 * The forward is the one place the record is missing, so that is the only call wrapped: the peers that
 * sent IDONTWANT for the id join the set gossipsub already excludes (the source, the other senders).
 */
export function honourIdontwant(pubsub: GossipSub): void {
  const g = pubsub as unknown as IdontwantInternals & { [HONOURED]?: true }
  if (g[HONOURED] || !(g.idontwants instanceof Map) || typeof g.forwardMessage !== 'function') return
  g[HONOURED] = true
  const forward = g.forwardMessage.bind(pubsub)
  g.forwardMessage = (msgIdStr, rawMsg, propagationSource, excludePeers) => {
    let exclude = excludePeers
    for (const [peer, ids] of g.idontwants) {
      if (!ids.has(msgIdStr)) continue
      if (exclude === excludePeers) exclude = new Set(excludePeers)
      exclude?.add(peer)
    }
    forward(msgIdStr, rawMsg, propagationSource, exclude)
  }
}
