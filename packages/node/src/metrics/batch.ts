import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** The life of a decided batch (batch/pipeline.ts): what it held, how long opening and clearing took. */
export function createBatchMetrics(registry: Registry) {
  return {
    processed: new Counter({
      name: 'allot_batch_processed_total',
      help: 'Decided batches processed (opened, cleared, result attested)',
      registers: [registry],
    }),
    orders: new Counter({
      name: 'allot_batch_orders_total',
      help: 'Orders in decided batches processed',
      registers: [registry],
    }),
    fills: new Counter({
      name: 'allot_batch_fills_total',
      help: 'Fills in the clearing results of processed batches',
      registers: [registry],
    }),
    penalties: new Counter({
      name: 'allot_batch_penalties_total',
      help: 'Penalties (invalid orders charged to their trader) in processed batches',
      registers: [registry],
    }),
    unsealSeconds: new Histogram({
      name: 'allot_batch_unseal_seconds',
      help: 'Time to open a decided batch: waiting for t+1 key shares, then unsealing every order',
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
    solveSeconds: new Histogram({
      name: 'allot_batch_solve_seconds',
      help: 'Time the solver took to clear a batch (clearBatch)',
      buckets: [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers: [registry],
    }),
    objective: new Gauge({
      name: 'allot_batch_objective',
      help: "The solver's objective (traders' surplus in numeraire units) of the last batch processed",
      registers: [registry],
    }),
    lastProcessed: new Gauge({
      name: 'allot_batch_processed_height',
      help: 'The last height processed by the batch pipeline',
      registers: [registry],
    }),
  }
}

export type BatchMetrics = ReturnType<typeof createBatchMetrics>
