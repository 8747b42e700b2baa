import { Gauge, Histogram, type Registry } from 'prom-client'

/** The mempool and the intake pipeline shared by the API and gossip. */
export function createMempoolMetrics(registry: Registry) {
  return {
    orders: new Gauge({ name: 'allot_mempool_orders', help: 'Orders in the mempool', registers: [registry] }),
    intakeLatency: new Histogram({
      name: 'allot_intake_seconds',
      help: 'Order intake latency per list of orders (a submit, a submitMany, a gossip bundle, a sync page): checks, signatures, write',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
  }
}

export type MempoolMetrics = ReturnType<typeof createMempoolMetrics>
