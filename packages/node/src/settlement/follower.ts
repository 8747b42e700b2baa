import { AllotError } from '@allot/protocol'
import { type Address, type Hex, parseEventLogs } from 'viem'
import { type ChainClients, settlementAbi } from './chain.js'

/** A small key-value store the follower keeps its cursor in; the node backs it with its level db. */
export interface KeyValueStore {
  get(key: string): Promise<string | undefined>
  put(key: string, value: string): Promise<void>
}

/** In-memory store (tests, one-shot tools). */
export class MemoryKeyValueStore implements KeyValueStore {
  readonly map = new Map<string, string>()
  async get(key: string): Promise<string | undefined> {
    return this.map.get(key)
  }
  async put(key: string, value: string): Promise<void> {
    this.map.set(key, value)
  }
}

interface EventPosition {
  blockNumber: bigint
  blockHash: Hex
  txHash: Hex
  logIndex: number
}

/** Contract events the node follows, in chain order. (txHash, logIndex) identifies one. */
export type SettlementEvent = EventPosition &
  (
    | { kind: 'deposit'; account: Address; token: Address; amount: bigint }
    | { kind: 'withdrawalRequested'; account: Address; token: Address; amount: bigint; requestBlock: bigint }
    | { kind: 'withdrawn'; account: Address; token: Address; amount: bigint; escape: boolean }
    | { kind: 'batchSettled'; height: bigint; resultHash: Hex }
    | { kind: 'batchVoided'; height: bigint; resultHash: Hex; chainRef: bigint }
  )

export interface FollowerCursor {
  /** Last block fully delivered. */
  block: bigint
  hash: Hex
}

export interface SettlementEventFollowerOptions {
  clients: ChainClients
  settlement: Address
  store: KeyValueStore
  /**
   * Only blocks at least this deep below the head are delivered, so a reorg within the depth never
   * touches a delivered event.
   */
  confirmations: number
  /** Where to start when the store has no cursor (e.g. the contract's deployment block). */
  fromBlock?: bigint
  /** Called with each batch of events, in order; the cursor advances only after it resolves. */
  onEvents(events: SettlementEvent[]): Promise<void> | void
  /** Called when the block under the cursor changed: a reorg deeper than `confirmations`. */
  onDeepReorg?(cursor: FollowerCursor, rewoundTo: bigint): Promise<void> | void
  pollIntervalMs?: number
  /** Blocks per getLogs request. */
  maxRange?: bigint
  /** Key of the cursor in the store. */
  cursorKey?: string
  onError?(e: unknown): void
}

/**
 * Follows the settlement contract's events from a persisted cursor: survives restarts (the cursor is in
 * the store) and reorgs within the confirmation depth (it never reads above head − confirmations). Delivery
 * is at least once across a crash between `onEvents` and the cursor write: consumers key events by
 * (txHash, logIndex).
 */
export class SettlementEventFollower {
  private timer: NodeJS.Timeout | undefined
  private running = false
  private polling: Promise<number> | undefined
  private readonly key: string

  constructor(private readonly opts: SettlementEventFollowerOptions) {
    this.key = opts.cursorKey ?? `settlement:cursor:${opts.settlement.toLowerCase()}`
  }

  async cursor(): Promise<FollowerCursor | undefined> {
    const raw = await this.opts.store.get(this.key)
    if (!raw) return undefined
    const c = JSON.parse(raw) as { block: string; hash: Hex }
    return { block: BigInt(c.block), hash: c.hash }
  }

  private async saveCursor(c: FollowerCursor): Promise<void> {
    await this.opts.store.put(this.key, JSON.stringify({ block: c.block.toString(), hash: c.hash }))
  }

  /** Delivers every event up to head − confirmations; returns how many. Serialised: one poll at a time. */
  poll(): Promise<number> {
    if (!this.polling) this.polling = this.pollOnce().finally(() => (this.polling = undefined))
    return this.polling
  }

  private async pollOnce(): Promise<number> {
    const pc = this.opts.clients.publicClient
    const head = await pc.getBlockNumber({ cacheTime: 0 })
    const safe = head - BigInt(this.opts.confirmations)
    let cursor = await this.cursor()
    if (cursor) {
      const b = await pc.getBlock({ blockNumber: cursor.block })
      if (b.hash !== cursor.hash) {
        // Deeper than the confirmation depth: rewind and tell the node; it must rebuild what it derived.
        const to =
          cursor.block > BigInt(this.opts.confirmations) ? cursor.block - BigInt(this.opts.confirmations) : 0n
        await this.opts.onDeepReorg?.(cursor, to)
        const rb = await pc.getBlock({ blockNumber: to })
        cursor = { block: to, hash: rb.hash as Hex }
        await this.saveCursor(cursor)
      }
    }
    let from = cursor ? cursor.block + 1n : (this.opts.fromBlock ?? 0n)
    const maxRange = this.opts.maxRange ?? 2000n
    let delivered = 0
    while (from <= safe) {
      const to = from + maxRange - 1n < safe ? from + maxRange - 1n : safe
      const logs = await pc.getLogs({ address: this.opts.settlement, fromBlock: from, toBlock: to })
      const events = parseEventLogs({ abi: settlementAbi(), logs }).flatMap((l): SettlementEvent[] => {
        const pos: EventPosition = {
          blockNumber: l.blockNumber as bigint,
          blockHash: l.blockHash as Hex,
          txHash: l.transactionHash as Hex,
          logIndex: l.logIndex as number,
        }
        const a = l.args as Record<string, unknown>
        switch (l.eventName) {
          case 'Deposited':
            return [
              {
                ...pos,
                kind: 'deposit',
                account: lc(a.account),
                token: lc(a.token),
                amount: a.amount as bigint,
              },
            ]
          case 'WithdrawalRequested':
            return [
              {
                ...pos,
                kind: 'withdrawalRequested',
                account: lc(a.account),
                token: lc(a.token),
                amount: a.amount as bigint,
                requestBlock: a.requestBlock as bigint,
              },
            ]
          case 'Withdrawn':
            return [
              {
                ...pos,
                kind: 'withdrawn',
                account: lc(a.account),
                token: lc(a.token),
                amount: a.amount as bigint,
                escape: a.escape as boolean,
              },
            ]
          case 'BatchSettled':
            return [
              { ...pos, kind: 'batchSettled', height: a.height as bigint, resultHash: a.resultHash as Hex },
            ]
          case 'BatchVoided':
            return [
              {
                ...pos,
                kind: 'batchVoided',
                height: a.height as bigint,
                resultHash: a.resultHash as Hex,
                chainRef: a.chainRef as bigint,
              },
            ]
          default:
            return []
        }
      })
      if (events.length > 0) await this.opts.onEvents(events)
      delivered += events.length
      const toBlock = await pc.getBlock({ blockNumber: to })
      await this.saveCursor({ block: to, hash: toBlock.hash as Hex })
      from = to + 1n
    }
    return delivered
  }

  /** Polls every `pollIntervalMs` until `stop()`. */
  start(): void {
    if (this.running) return
    this.running = true
    const tick = async () => {
      if (!this.running) return
      try {
        await this.poll()
      } catch (e) {
        this.opts.onError?.(e)
      }
      if (this.running) this.timer = setTimeout(tick, this.opts.pollIntervalMs ?? 1000)
    }
    void tick()
  }

  async stop(): Promise<void> {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    await this.polling?.catch(() => {})
  }
}

function lc(x: unknown): Address {
  if (typeof x !== 'string') throw new AllotError('SETTLE_BAD_EVENT', 'event field is not an address')
  return x.toLowerCase() as Address
}
