import { Counter, Gauge, type Registry } from 'prom-client'

/** DKG session stages as `allot_sealing_dkg_stage` shows them; `idle` when no session is open. */
export const DKG_STAGES = ['idle', 'deal', 'complaint', 'answer', 'accusation', 'done'] as const
export type DkgStage = (typeof DKG_STAGES)[number]

/** Sealed bids (sealing/): key shares, the epochs of batch keys, the validators' DKG. */
export function createSealingMetrics(registry: Registry) {
  const m = {
    sharesReceived: new Counter({
      name: 'allot_sealing_shares_received_total',
      help: 'Released key shares received (gossip, fetch, our own), by result: accepted or the refusal code',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    sharesMissing: new Gauge({
      name: 'allot_sealing_shares_missing',
      help: 'Key shares still missing to open the batch being opened (t+1 minus those held; 0 once open)',
      registers: [registry],
    }),
    epochStart: new Gauge({
      name: 'allot_sealing_epoch_start_height',
      help: 'First height of the newest epoch of batch keys this node holds',
      registers: [registry],
    }),
    keyedThrough: new Gauge({
      name: 'allot_sealing_keyed_through_height',
      help: 'Last height any held epoch covers: the next epoch must be generated before it',
      registers: [registry],
    }),
    dkgStage: new Gauge({
      name: 'allot_sealing_dkg_stage',
      help: 'The stage of the newest DKG session (1 for the current stage, 0 for the others)',
      labelNames: ['stage'] as const,
      registers: [registry],
    }),
    dkgOutcomes: new Counter({
      name: 'allot_sealing_dkg_outcomes_total',
      help: 'Finished DKG attempts by result (ok: a new epoch; failed)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
  }
  m.sharesReceived.inc({ result: 'accepted' }, 0)
  for (const result of ['ok', 'failed']) m.dkgOutcomes.inc({ result }, 0)
  setDkgStage(m, 'idle')
  return m
}

export type SealingMetrics = ReturnType<typeof createSealingMetrics>

export function setDkgStage(m: Pick<SealingMetrics, 'dkgStage'>, current: DkgStage): void {
  for (const stage of DKG_STAGES) m.dkgStage.set({ stage }, stage === current ? 1 : 0)
}
