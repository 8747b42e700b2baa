import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** The node's metrics (STYLE.md "Observability"): callers use `metrics?.x.inc()` so metrics can be off. */
export function createNodeMetrics(registry: Registry) {
  return {
    peers: new Gauge({ name: 'allot_peers', help: 'Connected peers', registers: [registry] }),
    gossip: new Counter({
      name: 'allot_gossip_messages_total',
      help: 'Gossip messages by topic and verdict (accept/ignore/reject)',
      labelNames: ['topic', 'verdict', 'code'] as const,
      registers: [registry],
    }),
    mempoolSize: new Gauge({
      name: 'allot_mempool_orders',
      help: 'Orders in the mempool',
      registers: [registry],
    }),
    apiRequests: new Counter({
      name: 'allot_api_requests_total',
      help: 'API and sync requests by protocol and result code',
      labelNames: ['protocol', 'code'] as const,
      registers: [registry],
    }),
    apiLatency: new Histogram({
      name: 'allot_api_request_seconds',
      help: 'API and sync request latency',
      labelNames: ['protocol'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    intakeLatency: new Histogram({
      name: 'allot_intake_seconds',
      help: 'Order intake latency (validation, signature, write)',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
  }
}

export type NodeMetrics = ReturnType<typeof createNodeMetrics>

export function createRegistry(withDefaults = true): Registry {
  const r = new Registry()
  if (withDefaults) collectDefaultMetrics({ register: r })
  return r
}

export { Registry }
