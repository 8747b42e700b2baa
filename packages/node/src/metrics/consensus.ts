import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** Tendermint steps whose timeout can expire (consensus/tendermint.ts `TimeoutKind`). */
export const TIMEOUT_STEPS = ['propose', 'prevote', 'precommit'] as const
/** Kinds of equivocation evidence: a validator's two votes or two proposals in one slot, or two results. */
export const EQUIVOCATION_KINDS = ['duplicate-vote', 'duplicate-proposal', 'result'] as const

/** Agreement (consensus/service.ts): where it is, how long a height takes, and what went wrong. */
export function createConsensusMetrics(registry: Registry) {
  const m = {
    height: new Gauge({
      name: 'allot_consensus_height',
      help: 'The height consensus works on (the next batch to decide)',
      registers: [registry],
    }),
    round: new Gauge({
      name: 'allot_consensus_round',
      help: 'The round consensus is in at its height (0 when the first proposal is decided)',
      registers: [registry],
    }),
    decisionSeconds: new Histogram({
      name: 'allot_consensus_decision_seconds',
      help: 'Time from the previous decision (or the start) to the decision of a height, batch interval included',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    }),
    timeouts: new Counter({
      name: 'allot_consensus_timeouts_total',
      help: 'Timeouts that expired while consensus was still at their height, round and step, by step',
      labelNames: ['step'] as const,
      registers: [registry],
    }),
    badSignatures: new Counter({
      name: 'allot_consensus_bad_signatures_total',
      help: 'Consensus messages and result attestations whose signature did not recover to their validator',
      registers: [registry],
    }),
    equivocations: new Counter({
      name: 'allot_consensus_equivocations_total',
      help: 'Equivocation evidence seen, by kind (two votes or proposals in one slot, two results of one height)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    certificates: new Counter({
      name: 'allot_consensus_certificates_total',
      help: 'Result certificates formed (a quorum of validators signed one clearing result)',
      registers: [registry],
    }),
    resultMismatches: new Counter({
      name: 'allot_consensus_result_mismatches_total',
      help: 'Heights where our clearing result differed from the certified one',
      registers: [registry],
    }),
  }
  // Exported at 0 from the start: a family with no sample reads as "not measured" to a dashboard.
  for (const step of TIMEOUT_STEPS) m.timeouts.inc({ step }, 0)
  for (const kind of EQUIVOCATION_KINDS) m.equivocations.inc({ kind }, 0)
  return m
}

export type ConsensusMetrics = ReturnType<typeof createConsensusMetrics>
