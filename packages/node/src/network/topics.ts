/** Gossip topics of DESIGN.md "Wire": `/allot/<networkId>/{orders,consensus,unseal,results}/1`. */
export const TOPIC_KINDS = ['orders', 'consensus', 'unseal', 'results'] as const
export type TopicKind = (typeof TOPIC_KINDS)[number]

export function topicOf(networkId: string, kind: TopicKind): string {
  return `/allot/${networkId}/${kind}/1`
}

export function allTopics(networkId: string): string[] {
  return TOPIC_KINDS.map((k) => topicOf(networkId, k))
}
