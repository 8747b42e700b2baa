import { AllotError, type Hex } from '@allot/protocol'
import type { BatchOpener, InvalidOrder, OpenedOrder } from '../batch/unseal.js'
import type { SealingMetrics } from '../metrics/index.js'
import type { SealingService } from './service.js'

export interface SealingOpenerOptions {
  /** How long to wait for t+1 valid shares of a decided batch before giving up on it. */
  deadlineMs?: number
  /** Poll interval while waiting for shares. */
  pollMs?: number
  /** Called while waiting (every `pollMs`): the node may ask peers for shares it missed. */
  onWaiting?: (height: bigint) => void
  /** Ends a wait for shares at once (the node stops): the batch fails with NODE_STOPPING and is retried after a restart. */
  signal?: AbortSignal
  /** `allot_sealing_shares_missing` while a batch waits for its shares. */
  metrics?: Pick<SealingMetrics, 'sharesMissing'>
}

/**
 * The BatchOpener of a sealing network: waits (up to the deadline) until the sealing service holds
 * t+1 valid released shares of sk_h, then opens every order of batch h. Only the pipeline calls it,
 * and only for a decided batch (run.ts) — and shares of h leave a validator only once h is decided
 * (SealingService.onDecided), so nothing opens before the decision.
 */
export function sealingOpener(svc: SealingService, o: SealingOpenerOptions = {}): BatchOpener {
  const deadlineMs = o.deadlineMs ?? 30_000
  const pollMs = o.pollMs ?? 25
  return {
    async open(height, orders) {
      // An empty batch has nothing to open: no key needed (a validator catching up on batches whose
      // shares it never saw gets through the empty ones at once).
      svc.openedThrough(height)
      if (orders.length === 0) return { opened: [], invalid: [] }
      const until = Date.now() + deadlineMs
      while (!svc.secretKey(height)) {
        o.metrics?.sharesMissing.set(svc.missingShares(height))
        if (o.signal?.aborted) throw new AllotError('NODE_STOPPING', `batch ${height}: the node stops`)
        if (Date.now() > until) {
          throw new AllotError(
            'SEAL_NOT_ENOUGH_SHARES',
            `batch ${height}: no t+1 valid shares in ${deadlineMs} ms`,
          )
        }
        o.onWaiting?.(height)
        await pause(pollMs, o.signal)
      }
      o.metrics?.sharesMissing.set(0)
      const sealed: { orderId: Hex; sealed: (typeof orders)[number]['envelope'] }[] = []
      const opened: OpenedOrder[] = []
      const invalid: InvalidOrder[] = []
      for (const { id, envelope } of orders) {
        if (envelope.payload.kind === 'sealed') sealed.push({ orderId: id, sealed: envelope })
        else
          invalid.push({
            id,
            trader: envelope.trader,
            code: 'ORDER_PLAIN_REFUSED',
            message: 'plain order on a sealing network',
          })
      }
      const byId = new Map(orders.map((x) => [x.id, x.envelope]))
      for (const u of svc.unseal(height, sealed)) {
        if (u.result.ok)
          opened.push({
            id: u.orderId,
            envelope: byId.get(u.orderId)!,
            signed: u.result.order,
            signatureChecked: true,
          })
        else
          invalid.push({ id: u.orderId, trader: u.trader, code: u.result.reason, message: u.result.message })
      }
      return { opened, invalid }
    },
  }
}

/** A pause that an abort ends at once (no timer is left behind a stopped node). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const t = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
