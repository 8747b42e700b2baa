import type { Address, AssetId, BatchCertificate, ClearingResult, Hex } from '@allot/protocol'
import { parseAbiItem } from 'viem'
import {
  type BatchSubmitter,
  type ChainBalanceReader,
  type ChainClients,
  readInvalidatedAt,
  readProgress,
} from '../settlement/index.js'
import type { ChainView, Settler } from './pipeline.js'

/** The pipeline's chain view over the settlement contract. */
export function contractChainView(
  reader: ChainBalanceReader,
  clients: ChainClients,
  settlement: Address,
): ChainView {
  const settledAt = new Map<bigint, Promise<bigint>>()
  const requestsAt = new Map<bigint, Promise<bigint | null>>()
  return {
    available: (trader, asset: AssetId, chainRef) => reader.availableBalance(trader, asset, chainRef),
    withdrawalAwaitingSettlement(chainRef) {
      // Chain state at or below the confirmed head does not change: cache it.
      let p = requestsAt.get(chainRef)
      if (!p) {
        p = (async () => {
          const { lastChainRef } = await readProgress(clients, settlement, chainRef)
          if (lastChainRef >= chainRef) return null
          const logs = await clients.publicClient.getLogs({
            address: settlement,
            event: WITHDRAWAL_REQUESTED,
            fromBlock: lastChainRef + 1n,
            toBlock: chainRef,
          })
          let last: bigint | null = null
          for (const l of logs)
            if (l.blockNumber !== null && (last === null || l.blockNumber > last)) last = l.blockNumber
          return last
        })()
        p.catch(() => requestsAt.delete(chainRef))
        if (requestsAt.size > 1024) requestsAt.delete(requestsAt.keys().next().value as bigint)
        requestsAt.set(chainRef, p)
      }
      return p
    },
    invalidatedAt: (orders, chainRef) => readInvalidatedAt(clients, settlement, orders, chainRef),
    async voidedBetween(from, to) {
      // Blocks at or below the confirmed head do not change; each batch asks for a new range once.
      const logs = await clients.publicClient.getLogs({
        address: settlement,
        event: BATCH_VOIDED,
        fromBlock: from,
        toBlock: to,
      })
      return logs.flatMap((l) => (l.args.height === undefined ? [] : [l.args.height]))
    },
    settledHeightAt(chainRef) {
      // State at a block at or below the confirmed head does not change: cache it.
      let p = settledAt.get(chainRef)
      if (!p) {
        p = readProgress(clients, settlement, chainRef).then((x) => x.lastHeight)
        p.catch(() => settledAt.delete(chainRef))
        if (settledAt.size > 1024) settledAt.delete(settledAt.keys().next().value as bigint)
        settledAt.set(chainRef, p)
      }
      return p
    },
  }
}

const BATCH_SETTLED = parseAbiItem('event BatchSettled(uint256 indexed height, bytes32 resultHash)')
const BATCH_VOIDED = parseAbiItem(
  'event BatchVoided(uint256 indexed height, bytes32 resultHash, uint64 chainRef)',
)
const WITHDRAWAL_REQUESTED = parseAbiItem(
  'event WithdrawalRequested(address indexed account, address indexed token, uint256 amount, uint64 requestBlock)',
)

/** Settles through the submitter (proposer first, others after a take-over delay) and follows BatchSettled. */
export function contractSettler(
  submitter: BatchSubmitter,
  clients: ChainClients,
  settlement: Address,
  /** Ends submissions under way (the node stops): a takeover wait or a retry pause does not outlive it. */
  signal?: AbortSignal,
): Settler {
  let fromBlock = 0n
  return {
    async settle(result: ClearingResult, certificate: BatchCertificate, proposer: Address) {
      const r = await submitter.submit([{ result, certificate }], proposer, signal)
      return r.status === 'settled' ? { txHash: r.txHash } : null
    },
    async settledSince() {
      const head = await clients.publicClient.getBlockNumber({ cacheTime: 0 })
      const out = new Map<bigint, { txHash: Hex; status: 'settled' | 'voided' }>()
      if (head < fromBlock) return out
      const [settled, voided] = await Promise.all(
        [BATCH_SETTLED, BATCH_VOIDED].map((event) =>
          clients.publicClient.getLogs({ address: settlement, event, fromBlock, toBlock: head }),
        ),
      )
      for (const [logs, status] of [
        [settled, 'settled'],
        [voided, 'voided'],
      ] as const)
        for (const l of logs)
          if (l.args.height !== undefined && l.transactionHash)
            out.set(l.args.height, { txHash: l.transactionHash, status })
      fromBlock = head + 1n
      return out
    },
  }
}
