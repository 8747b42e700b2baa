import { AllotError } from '@allot/protocol'
import type { Address, Hex } from 'viem'
import type { SettlementMetrics } from '../metrics/index.js'
import {
  asSettleError,
  type CertifiedResult,
  type ChainClients,
  certifiedBatchArg,
  requireWallet,
  revertName,
  settlementAbi,
} from './chain.js'
import { readProgress } from './reader.js'

export interface BatchSubmitterOptions {
  clients: ChainClients
  settlement: Address
  /** How long a validator that is not the batch's proposer waits before submitting itself. */
  takeoverMs: number
  /** RPC failures (not reverts) are retried this many times with exponential backoff. */
  retries?: number
  backoffMs?: number
  maxBackoffMs?: number
  log?: (msg: string, fields?: Record<string, unknown>) => void
  /** Transactions, reverts, gas used (metrics/settlement.ts). */
  metrics?: Pick<SettlementMetrics, 'transactions' | 'reverts' | 'gasUsed'>
}

export type SubmitOutcome =
  | { status: 'settled'; txHash: Hex; heights: bigint[]; gasUsed: bigint }
  /** Another submitter got there first (or a batch was voided): nothing sent. */
  | { status: 'already-settled'; heights: bigint[] }

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t)
        resolve()
      },
      { once: true },
    )
  })

/**
 * Sends certified batches to `AllotSettlement.settle` (DESIGN.md step 6): the batch's proposer at once,
 * any other validator after `takeoverMs` if the batches are still unsettled. Batches already settled are
 * recognised from the contract's progress and not resubmitted; RPC errors are retried with backoff;
 * a revert is not retried (it is a fact about the batch) and surfaces as SETTLE_REVERTED.
 */
export class BatchSubmitter {
  constructor(private readonly opts: BatchSubmitterOptions) {}

  /**
   * Settles `batches` (consecutive settled heights, ascending) in one transaction.
   * `proposer` is the batch's proposer: when it is not this submitter's account, wait `takeoverMs` first.
   */
  async submit(batches: CertifiedResult[], proposer: Address, signal?: AbortSignal): Promise<SubmitOutcome> {
    const { account } = requireWallet(this.opts.clients)
    if (batches.length === 0) return { status: 'already-settled', heights: [] }
    const sorted = [...batches].sort((a, b) => (a.result.height < b.result.height ? -1 : 1))
    const heights = sorted.map((b) => b.result.height)
    const top = heights[heights.length - 1]
    if (proposer.toLowerCase() !== account.address.toLowerCase()) {
      const deadline = Date.now() + this.opts.takeoverMs
      while (Date.now() < deadline && !signal?.aborted) {
        if (
          (await this.retrying(() => readProgress(this.opts.clients, this.opts.settlement), signal))
            .lastHeight >= top
        ) {
          return { status: 'already-settled', heights }
        }
        await sleep(Math.min(500, Math.max(0, deadline - Date.now())), signal)
      }
    }
    if (signal?.aborted) throw new AllotError('SETTLE_ABORTED', 'submission aborted')
    const progress = await this.retrying(() => readProgress(this.opts.clients, this.opts.settlement), signal)
    const pending = sorted.filter((b) => b.result.height > progress.lastHeight)
    if (pending.length === 0) return { status: 'already-settled', heights }
    const args = pending.map(certifiedBatchArg)
    const pendingHeights = pending.map((b) => b.result.height)
    return this.retrying(async () => {
      if (signal?.aborted) throw new AllotError('SETTLE_ABORTED', 'submission aborted')
      const { walletClient, account: acct } = requireWallet(this.opts.clients)
      const pc = this.opts.clients.publicClient
      let txHash: Hex
      try {
        // viem estimates gas first: a batch the contract refuses reverts here, before anything is sent.
        txHash = await walletClient.writeContract({
          address: this.opts.settlement,
          abi: settlementAbi(),
          functionName: 'settle',
          args: [args],
          account: acct,
        })
      } catch (e) {
        if (revertName(e)) {
          if (await this.settledBy(top)) return { status: 'already-settled', heights }
          this.opts.metrics?.reverts.inc()
        }
        asSettleError(e, 'settle')
      }
      const receipt = await pc.waitForTransactionReceipt({ hash: txHash })
      this.opts.metrics?.gasUsed.inc(Number(receipt.gasUsed))
      if (receipt.status !== 'success') {
        if (await this.settledBy(top)) return { status: 'already-settled', heights }
        this.opts.metrics?.reverts.inc()
        throw new AllotError('SETTLE_REVERTED', `settle reverted in ${txHash}`, { txHash })
      }
      this.opts.metrics?.transactions.inc()
      this.opts.log?.('batches settled', {
        heights: pendingHeights.map(String),
        txHash,
        gasUsed: receipt.gasUsed,
      })
      return { status: 'settled', txHash, heights: pendingHeights, gasUsed: receipt.gasUsed }
    })
  }

  private async settledBy(height: bigint): Promise<boolean> {
    return (await readProgress(this.opts.clients, this.opts.settlement)).lastHeight >= height
  }

  /** Retries `fn` on errors that are not AllotErrors (RPC, network), with exponential backoff. */
  private async retrying<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const retries = this.opts.retries ?? 5
    let delay = this.opts.backoffMs ?? 200
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn()
      } catch (e) {
        if (e instanceof AllotError || attempt >= retries || signal?.aborted) throw e
        this.opts.log?.('settlement RPC failed; retrying', { attempt, error: (e as Error).message })
        await sleep(delay, signal)
        delay = Math.min(delay * 2, this.opts.maxBackoffMs ?? 5000)
      }
    }
  }
}
