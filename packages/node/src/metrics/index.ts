import { collectDefaultMetrics, Registry } from 'prom-client'
import { type ApiMetrics, createApiMetrics } from './api.js'
import { type BatchMetrics, createBatchMetrics } from './batch.js'
import { type ConsensusMetrics, createConsensusMetrics } from './consensus.js'
import { createMempoolMetrics, type MempoolMetrics } from './mempool.js'
import { createNetworkMetrics, type NetworkMetrics } from './network.js'
import { createSealingMetrics, type SealingMetrics } from './sealing.js'
import { createSettlementMetrics, type SettlementMetrics } from './settlement.js'

/**
 * The node's metrics, one factory per concern (STYLE.md "Observability", Lodestar's metrics): each service
 * takes its own group when constructed and records with `metrics?.x.inc()`, so metrics can be off.
 * docs/node.md "Metrics" lists every family; a multi-node test checks each one is recorded.
 */
export function createNodeMetrics(registry: Registry) {
  return {
    network: createNetworkMetrics(registry),
    mempool: createMempoolMetrics(registry),
    api: createApiMetrics(registry),
    consensus: createConsensusMetrics(registry),
    batch: createBatchMetrics(registry),
    sealing: createSealingMetrics(registry),
    settlement: createSettlementMetrics(registry),
  }
}

export type NodeMetrics = ReturnType<typeof createNodeMetrics>

export function createRegistry(withDefaults = true): Registry {
  const r = new Registry()
  if (withDefaults) collectDefaultMetrics({ register: r })
  return r
}

export { createApiMetrics } from './api.js'
export { createBatchMetrics } from './batch.js'
export { createConsensusMetrics, EQUIVOCATION_KINDS, TIMEOUT_STEPS } from './consensus.js'
export { createMempoolMetrics } from './mempool.js'
export { createNetworkMetrics } from './network.js'
export { createSealingMetrics, DKG_STAGES, type DkgStage, setDkgStage } from './sealing.js'
export { MetricsServer, type MetricsServerOptions } from './server.js'
export { createSettlementMetrics } from './settlement.js'
export type {
  ApiMetrics,
  BatchMetrics,
  ConsensusMetrics,
  MempoolMetrics,
  NetworkMetrics,
  SealingMetrics,
  SettlementMetrics,
}
export { Registry }
