import {
  type AssetId,
  isResourceAssetId,
  isTokenAssetId,
  tokenAddressOf,
  tokenAssetId,
} from '@allot/protocol'
import type { Address } from 'viem'
import { type ChainClients, settlementAbi } from './chain.js'
import { readEscrow } from './funds.js'

/** The contract's settlement progress (one storage slot). */
export interface SettlementProgress {
  /** Last height settled or voided. */
  lastHeight: bigint
  /** Highest chainRef of a settled batch: withdrawals requested at or before it are claimable. */
  lastChainRef: bigint
  lastSettleBlock: bigint
  /** Block of the last escape-hatch withdrawal (0: never); batches with an older chainRef are voided. */
  lastEscapeBlock: bigint
}

/**
 * What the node's intake and solver read from the chain: balances as of a block `chainRef`
 * (DESIGN.md "A batch, step by step", step 4). State at a block below the head minus the confirmation
 * depth does not change, so answers are cached per (chainRef, account, token).
 */
export interface BalanceReader {
  /** The block batches should read state at now: head − confirmations (≥ 0). */
  chainRef(): Promise<bigint>
  /** Escrow balance as settled on chain at `chainRef`; 0 for resource classes (not escrowed). */
  escrowBalance(trader: Address, asset: AssetId, chainRef: bigint): Promise<bigint>
  /** Withdrawal requested and not yet paid at `chainRef`. */
  pendingWithdrawal(trader: Address, asset: AssetId, chainRef: bigint): Promise<bigint>
  /**
   * Escrow minus pending withdrawal at `chainRef` (never negative). The node adds the effects of decided
   * batches not yet settled at `chainRef` on top of this.
   */
  availableBalance(trader: Address, asset: AssetId, chainRef: bigint): Promise<bigint>
  /** Whether the trader's available bond-token balance at `chainRef` is at least `minBond`. */
  hasBond(trader: Address, chainRef: bigint): Promise<boolean>
}

export interface ChainBalanceReaderOptions {
  clients: ChainClients
  settlement: Address
  /** Blocks below the head that count as final (the confirmation depth). */
  confirmations: number
  bondToken: Address
  minBond: bigint
  /** Tokens `balancesOf` reports (e.g. genesis's token assets). */
  tokens?: Address[]
  /** Entries kept in the per-block cache. */
  cacheSize?: number
  /**
   * How long the chain head (chainRef) read for intake's bond checks and the API is reused, in ms
   * (default 250): one read serves every order of a burst instead of one RPC call per order.
   */
  headCacheMs?: number
  /** Clock (ms), for tests. */
  now?: () => number
}

/**
 * The chain-backed reader. Besides `BalanceReader` it offers `bondOf` and `balancesOf` at the current
 * chainRef, the shapes of the mempool's `BondReader` and `BalanceReader` (structurally), so intake and the
 * API can take it as is.
 */
export class ChainBalanceReader implements BalanceReader {
  private readonly cache = new Map<string, Promise<{ escrow: bigint; pending: bigint }>>()
  private readonly cacheSize: number

  constructor(private readonly opts: ChainBalanceReaderOptions) {
    this.cacheSize = opts.cacheSize ?? 10_000
  }

  /** The newest confirmed block: head − confirmations, read afresh. */
  async chainRef(): Promise<bigint> {
    const head = await this.opts.clients.publicClient.getBlockNumber({ cacheTime: 0 })
    const ref = head - BigInt(this.opts.confirmations)
    return ref < 0n ? 0n : ref
  }

  private recentRef: { at: number; ref: Promise<bigint> } | undefined

  /**
   * `chainRef()` reused for `headCacheMs` (one read in flight at a time): what intake's bond checks and
   * the API read. Gossip from strangers drove one uncached head read per order before (issue 24).
   */
  recentChainRef(): Promise<bigint> {
    const now = (this.opts.now ?? Date.now)()
    const r = this.recentRef
    if (r && now - r.at < (this.opts.headCacheMs ?? 250)) return r.ref
    const ref = this.chainRef()
    this.recentRef = { at: now, ref }
    ref.catch(() => {
      if (this.recentRef?.ref === ref) this.recentRef = undefined
    })
    return ref
  }

  private position(trader: Address, token: Address, chainRef: bigint) {
    const key = `${chainRef}:${trader.toLowerCase()}:${token.toLowerCase()}`
    let p = this.cache.get(key)
    if (!p) {
      p = readEscrow(this.opts.clients, this.opts.settlement, trader, token, chainRef).then((e) => ({
        escrow: e.escrow,
        pending: e.pendingWithdrawal,
      }))
      // A failed read is not cached.
      p.catch(() => this.cache.delete(key))
      if (this.cache.size >= this.cacheSize) {
        const oldest = this.cache.keys().next().value
        if (oldest !== undefined) this.cache.delete(oldest)
      }
      this.cache.set(key, p)
    }
    return p
  }

  async escrowBalance(trader: Address, asset: AssetId, chainRef: bigint): Promise<bigint> {
    if (isResourceAssetId(asset) || !isTokenAssetId(asset)) return 0n
    return (await this.position(trader, tokenAddressOf(asset), chainRef)).escrow
  }

  async pendingWithdrawal(trader: Address, asset: AssetId, chainRef: bigint): Promise<bigint> {
    if (isResourceAssetId(asset) || !isTokenAssetId(asset)) return 0n
    return (await this.position(trader, tokenAddressOf(asset), chainRef)).pending
  }

  async availableBalance(trader: Address, asset: AssetId, chainRef: bigint): Promise<bigint> {
    if (isResourceAssetId(asset) || !isTokenAssetId(asset)) return 0n
    const p = await this.position(trader, tokenAddressOf(asset), chainRef)
    return p.escrow > p.pending ? p.escrow - p.pending : 0n
  }

  async hasBond(trader: Address, chainRef: bigint): Promise<boolean> {
    return (await this.bondAt(trader, chainRef)) >= this.opts.minBond
  }

  private async bondAt(trader: Address, chainRef: bigint): Promise<bigint> {
    const p = await this.position(trader, this.opts.bondToken, chainRef)
    return p.escrow > p.pending ? p.escrow - p.pending : 0n
  }

  /** Available bond-token balance at the current chainRef (the mempool's `BondReader`). */
  async bondOf(trader: Address): Promise<bigint> {
    return this.bondAt(trader, await this.recentChainRef())
  }

  /** Escrow, available and pending withdrawal of every configured token at the current chainRef. */
  async balancesOf(
    trader: Address,
  ): Promise<{ asset: `0x${string}`; escrow: bigint; available: bigint; pendingWithdrawal: bigint }[]> {
    const ref = await this.recentChainRef()
    const tokens = this.opts.tokens ?? [this.opts.bondToken]
    return Promise.all(
      tokens.map(async (token) => {
        const p = await this.position(trader, token, ref)
        return {
          asset: tokenAssetId(token),
          escrow: p.escrow,
          available: p.escrow > p.pending ? p.escrow - p.pending : 0n,
          pendingWithdrawal: p.pending,
        }
      }),
    )
  }
}

/** Reads the contract's settlement progress, at `blockNumber` or the latest block. */
export async function readProgress(
  clients: ChainClients,
  settlement: Address,
  blockNumber?: bigint,
): Promise<SettlementProgress> {
  const r = (await clients.publicClient.readContract({
    address: settlement,
    abi: settlementAbi(),
    functionName: 'progress',
    blockNumber,
  })) as readonly [bigint, bigint, bigint, bigint]
  return { lastHeight: r[0], lastChainRef: r[1], lastSettleBlock: r[2], lastEscapeBlock: r[3] }
}
