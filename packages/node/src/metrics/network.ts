import { Counter, Gauge, type Registry } from 'prom-client'

/** The libp2p host and gossip: peers, and every gossip message's verdict. */
export function createNetworkMetrics(registry: Registry) {
  return {
    peers: new Gauge({ name: 'allot_peers', help: 'Connected peers', registers: [registry] }),
    gossip: new Counter({
      name: 'allot_gossip_messages_total',
      help: 'Gossip messages by topic and verdict (accept/ignore/reject)',
      labelNames: ['topic', 'verdict', 'code'] as const,
      registers: [registry],
    }),
  }
}

export type NetworkMetrics = ReturnType<typeof createNetworkMetrics>
