import { Counter, Gauge, type Registry } from 'prom-client'

/** Settlement on chain (settlement/): transactions, reverts, gas, and how far behind the chain we read. */
export function createSettlementMetrics(registry: Registry) {
  return {
    transactions: new Counter({
      name: 'allot_settlement_transactions_total',
      help: 'Settlement transactions sent and mined successfully by this node',
      registers: [registry],
    }),
    reverts: new Counter({
      name: 'allot_settlement_reverts_total',
      help: 'Settlement transactions that reverted (mined, or refused at gas estimation) with the batch still unsettled',
      registers: [registry],
    }),
    gasUsed: new Counter({
      name: 'allot_settlement_gas_used_total',
      help: "Gas used by this node's settlement transactions",
      registers: [registry],
    }),
    blocksBehind: new Gauge({
      name: 'allot_settlement_blocks_behind',
      help: 'Blocks between the chain head and the confirmed chain view (chainRef) consensus proposes and judges with',
      registers: [registry],
    }),
    settledHeight: new Gauge({
      name: 'allot_settlement_settled_height',
      help: 'The last batch height this node saw settled on chain',
      registers: [registry],
    }),
  }
}

export type SettlementMetrics = ReturnType<typeof createSettlementMetrics>
