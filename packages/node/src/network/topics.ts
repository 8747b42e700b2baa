/**
 * Every gossip topic of a node (DESIGN.md "Wire"), one table (issue 24): `TopicKind` is its keys, so a
 * topic used anywhere without an entry here is a compile error, and every topic in it gets its score
 * parameters (a rejected message costs its sender on every topic, the DKG's included). Named
 * `/allot/<network>/<kind>/<version>`.
 */
export const TOPICS = {
  /** Bundles of sealed orders (node.ts). */
  orders: { version: 1, scoreWeight: 1 },
  /** Proposals and votes (consensus/service.ts). */
  consensus: { version: 1, scoreWeight: 1 },
  /** Released key shares of decided batches (run.ts). */
  unseal: { version: 1, scoreWeight: 1 },
  /** Signed result attestations (consensus/service.ts). */
  results: { version: 1, scoreWeight: 1 },
  /** Deals, complaints, sealed answers and accusations of the epoch DKG (sealing/net.ts). */
  dkg: { version: 2, scoreWeight: 1 },
} as const satisfies Record<string, { version: number; scoreWeight: number }>

export type TopicKind = keyof typeof TOPICS
export const TOPIC_KINDS = Object.keys(TOPICS) as TopicKind[]

export function topicOf(networkId: string, kind: TopicKind): string {
  return `/allot/${networkId}/${kind}/${TOPICS[kind].version}`
}

/** Every topic of a network, with the weight of its score parameters. */
export function allTopics(networkId: string): { topic: string; weight: number }[] {
  return TOPIC_KINDS.map((k) => ({ topic: topicOf(networkId, k), weight: TOPICS[k].scoreWeight }))
}
