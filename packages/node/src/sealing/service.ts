import {
  type Address,
  AllotError,
  addressOf,
  batchCommitments,
  epochContains,
  fromHex,
  type Hex,
  type IndexedShare,
  type KeyShare,
  type NetworkDomain,
  type PrivateKey,
  recoverBatchSecretKey,
  type SealedOrder,
  scalarFromHex,
  shareForHeight,
  signKeyShare,
  type UnsealedOrder,
  unsealBatch,
  type ValidatorEpoch,
  verifyKeyShare,
} from '@allot/protocol'
import { fastSealPrimitives, recoverAddressFast } from '../crypto/index.js'
import type { SealingMetrics } from '../metrics/index.js'

/**
 * The node's sealing service (DESIGN "Sealing", "A batch, step by step" 3): holds the epochs' batch
 * keys, serves PK_h, releases this validator's share of sk_h only once batch h is decided (a
 * persisted rule that survives restarts), collects and checks the other validators' shares, rebuilds
 * sk_h from t+1 valid ones and unseals the batch. Network and storage are ports: the node wires
 * gossip (`/allot/<net>/unseal/1`) and level behind them.
 */
export interface SealingStore {
  /** Persists that batch h is decided. Must be durable before it resolves. */
  markDecided(height: bigint): Promise<void>
  isDecided(height: bigint): Promise<boolean>
  putEpoch(e: StoredEpoch): Promise<void>
  listEpochs(): Promise<StoredEpoch[]>
}

/** This validator's slice of an epoch: public part and its shares (one per height), or null on a non-validator. */
export type StoredEpoch = ValidatorEpoch

/** An in-memory store, for tests and for nodes without a data dir. */
export function memorySealingStore(): SealingStore {
  const decided = new Set<bigint>()
  const epochs: StoredEpoch[] = []
  return {
    markDecided: async (h) => {
      decided.add(h)
    },
    isDecided: async (h) => decided.has(h),
    putEpoch: async (e) => {
      epochs.push(e)
    },
    listEpochs: async () => [...epochs],
  }
}

export interface SealingServiceOptions {
  domain: NetworkDomain
  /** The validator set in index order: validators[i-1] holds Shamir index i. */
  validators: Address[]
  store: SealingStore
  /** This node's validator key, when it is a validator. */
  validatorKey?: PrivateKey
  /** Sends a share on the unseal topic. */
  publishShare?: (share: KeyShare) => Promise<void>
  /** Shares received, shares missing, the epochs held (metrics/sealing.ts). */
  metrics?: Pick<SealingMetrics, 'sharesReceived' | 'sharesMissing' | 'epochStart' | 'keyedThrough'>
}

export type ShareVerdict =
  | { accepted: true; ready: boolean }
  | { accepted: false; code: string; message: string }

/** The DKG of later epochs as the service drives it: every decided height, with the DKG refs its batch carries. */
export interface EpochGenerator {
  onHeight(height: bigint, dkgRefs?: readonly Hex[]): Promise<void>
}

/** Heights whose released shares a node keeps to serve peers. */
const HELD_HEIGHTS = 512

export class SealingService {
  private readonly epochs: StoredEpoch[] = []
  private readonly shares = new Map<bigint, Map<number, IndexedShare>>()
  private readonly secretKeys = new Map<bigint, Uint8Array>()
  /** Heights below it are opened (`openedThrough`): their shares are not kept. */
  private forgottenBelow = 0n
  /** Valid released shares as received, per height (recent heights only): served to peers that missed them. */
  private readonly held = new Map<bigint, Map<number, KeyShare>>()
  private readonly myIndex: number | null
  private generator?: EpochGenerator

  constructor(private readonly o: SealingServiceOptions) {
    if (o.validatorKey) {
      const me = addressOf(o.validatorKey)
      const i = o.validators.findIndex((v) => v.toLowerCase() === me)
      if (i < 0) throw new AllotError('SEAL_UNKNOWN_VALIDATOR', `${me} is not in the validator set`)
      this.myIndex = i + 1
    } else this.myIndex = null
  }

  /** Set by `stop`: nothing is released or published after it. */
  private stopped = false

  async start(): Promise<void> {
    this.epochs.push(...(await this.o.store.listEpochs()))
    this.recordEpochs()
    this.stopped = false
  }

  /**
   * Stops for real: no share is released or published from now on (a decision that arrives while the
   * node shuts down stays persisted, and the share is released again on request after a restart), and
   * the shares and keys held in memory are dropped. Its store (the node's level) closes after it.
   */
  async stop(): Promise<void> {
    this.stopped = true
    this.shares.clear()
    this.secretKeys.clear()
    this.held.clear()
  }

  private recordEpochs(): void {
    const m = this.o.metrics
    if (!m || this.epochs.length === 0) return
    let newest = this.epochs[0].public.startHeight
    for (const e of this.epochs) if (e.public.startHeight > newest) newest = e.public.startHeight
    m.epochStart.set(Number(newest))
    m.keyedThrough.set(Number(this.lastKeyedHeight()))
  }

  /** Key shares still missing to rebuild sk_h (0 once it can be, or when no epoch covers h). */
  missingShares(height: bigint): number {
    const e = this.epochOf(height)
    if (!e || this.secretKeys.has(height)) return 0
    return Math.max(0, e.public.t + 1 - (this.shares.get(height)?.size ?? 0))
  }

  /**
   * The generator of later epochs (the validators' DKG, sealing/dkg.ts): told of every decided
   * height, it starts the next epoch's DKG within its lead of the keyed heights' end and adds the
   * result here (addEpoch) — before the boundary, so batches roll over without a gap.
   */
  attachEpochGenerator(g: EpochGenerator): void {
    this.generator = g
  }

  /** Adds a dealt (devnet) or DKG-generated epoch (once: an epoch already held at that start is kept). */
  async addEpoch(e: StoredEpoch): Promise<void> {
    if (this.epochs.some((x) => x.public.startHeight === e.public.startHeight)) return
    if (e.public.n !== this.o.validators.length) {
      throw new AllotError(
        'SEAL_BAD_PARAMS',
        `epoch for ${e.public.n} validators, set has ${this.o.validators.length}`,
      )
    }
    await this.o.store.putEpoch(e)
    this.epochs.push(e)
    this.recordEpochs()
  }

  private epochOf(height: bigint): StoredEpoch | undefined {
    return this.epochs.find((e) => epochContains(e.public, height))
  }

  /** The epochs this node holds (public part and, on a validator, its shares), oldest first. */
  async epochsHeld(): Promise<StoredEpoch[]> {
    return [...this.epochs].sort((a, b) => (a.public.startHeight < b.public.startHeight ? -1 : 1))
  }

  /** PK_h (33 bytes), what clients seal to; undefined when no epoch covers h. For the API's `batchKey`. */
  async batchKey(height: bigint): Promise<Uint8Array | undefined> {
    const e = this.epochOf(height)
    return e ? fromHex(batchCommitments(e.public, height)[0]) : undefined
  }

  /** The last height any epoch covers (the DKG of the next epoch must finish well before it). */
  lastKeyedHeight(): bigint | undefined {
    let last: bigint | undefined
    for (const e of this.epochs) {
      const end = e.public.startHeight + BigInt(e.public.length) - 1n
      if (last === undefined || end > last) last = end
    }
    return last
  }

  /** Start of the next epoch to generate, when fewer than `leadHeights` keyed heights remain after `current`. */
  nextEpochStartIfDue(current: bigint, leadHeights: bigint): bigint | undefined {
    const last = this.lastKeyedHeight()
    if (last === undefined) return current + 1n
    return last - current < leadHeights ? last + 1n : undefined
  }

  /**
   * Batch h is decided: persist it, then release this validator's share (signed) on the unseal
   * topic. Order matters — the decision is durable before any share leaves.
   */
  async onDecided(height: bigint, dkgRefs?: readonly Hex[]): Promise<KeyShare | undefined> {
    // The DKG's clock and its decided broadcasts (not awaited: its phases must not hold up the share release).
    void this.generator?.onHeight(height, dkgRefs ?? [])
    await this.o.store.markDecided(height)
    if (this.myIndex === null || this.stopped) return undefined
    const ks = await this.releaseShare(height)
    this.onShare(ks)
    await this.o.publishShare?.(ks)
    return ks
  }

  /** This validator's signed share of sk_h. Throws SEAL_UNDECIDED unless h is decided (persisted). */
  async releaseShare(height: bigint): Promise<KeyShare> {
    if (!(await this.o.store.isDecided(height))) {
      throw new AllotError('SEAL_UNDECIDED', `batch ${height} is not decided: its key share stays private`)
    }
    const e = this.epochOf(height)
    if (!e?.shares || this.myIndex === null || !this.o.validatorKey) {
      throw new AllotError('SEAL_NO_BATCH_KEY', `no share of batch ${height} held here`)
    }
    const share = scalarFromHex(shareForHeight(e.public, e.shares, height))
    return signKeyShare(this.o.domain, { height, index: this.myIndex, share }, this.o.validatorKey)
  }

  /** A share from the unseal topic: checked (signer, index, commitments) and kept, or rejected with a code. */
  onShare(ks: KeyShare): ShareVerdict {
    const v = this.checkShare(ks)
    this.o.metrics?.sharesReceived.inc({ result: v.accepted ? 'accepted' : v.code })
    return v
  }

  private checkShare(ks: KeyShare): ShareVerdict {
    const e = this.epochOf(ks.height)
    if (!e) return { accepted: false, code: 'SEAL_NO_BATCH_KEY', message: `no epoch covers ${ks.height}` }
    let byIndex = this.shares.get(ks.height)
    // The very share we hold, again (gossip and the key-shares fetch both bring it): taken as before. Any
    // other message naming a held index is checked: it used to be accepted unchecked, so a forged share
    // for a (height, index) we held passed gossip validation and was forwarded to every peer (issue 24).
    if (byIndex?.has(ks.index) && sameKeyShare(this.held.get(ks.height)?.get(ks.index), ks))
      return { accepted: true, ready: this.isReady(ks.height) }
    try {
      const s = verifyKeyShare(this.o.domain, ks, batchCommitments(e.public, ks.height), this.o.validators)
      if (!byIndex && ks.height >= this.forgottenBelow) this.shares.set(ks.height, (byIndex = new Map()))
      if (!byIndex) {
        // Valid, of a batch opened long ago: held for peers who missed it, not kept for a key.
        this.hold(ks)
        return { accepted: true, ready: false }
      }
      if (!byIndex.has(s.index)) byIndex.set(s.index, s)
      this.hold(ks)
      return { accepted: true, ready: this.isReady(ks.height) }
    } catch (err) {
      if (err instanceof AllotError) return { accepted: false, code: err.code, message: err.message }
      throw err
    }
  }

  private hold(ks: KeyShare): void {
    let m = this.held.get(ks.height)
    if (!m) {
      this.held.set(ks.height, (m = new Map()))
      // Keep the most recent heights only (a restarted peer catches up on recent batches); heights
      // arrive in about ascending order, so the first inserted is about the oldest.
      if (this.held.size > HELD_HEIGHTS) this.held.delete(this.held.keys().next().value as bigint)
    }
    if (!m.has(ks.index)) m.set(ks.index, ks)
  }

  /**
   * The valid released shares of sk_h this node holds (for the key-shares protocol: a peer that missed
   * them on gossip asks instead of waiting). Released shares are public once out: serving them reveals
   * nothing the unseal topic did not.
   */
  heldShares(height: bigint): KeyShare[] {
    return [...(this.held.get(height)?.values() ?? [])]
  }

  /**
   * What a peer asking for the shares of a decided batch gets: the ones held, and this validator's own,
   * released again if it is not among them. Held shares live in memory; after every validator has
   * restarted nobody holds those of a batch decided before, and a validator that was down then could
   * never open it (found by the devnet's rolling restart: one stuck at its first missed batch with
   * orders). Its own share any validator can always sign again, for a decided height only.
   */
  async sharesToServe(height: bigint): Promise<KeyShare[]> {
    const held = this.heldShares(height)
    if (this.myIndex === null || held.some((s) => s.index === this.myIndex)) return held
    const own = await this.releaseShare(height).catch(() => undefined)
    if (!own) return held
    this.hold(own)
    return [...held, own]
  }

  private isReady(height: bigint): boolean {
    const e = this.epochOf(height)
    return !!e && (this.secretKeys.has(height) || (this.shares.get(height)?.size ?? 0) > e.public.t)
  }

  /**
   * The batch pipeline opened batch h, and opens heights in order: shares and keys of heights more than
   * `keep` below it are not needed again (a retried height is at most a few back). Before, the shares of
   * batches without orders (never opened, so never combined into a key) stayed forever, ~1 kB per height.
   */
  openedThrough(height: bigint, keep = 16n): void {
    const below = height - keep
    for (const h of this.shares.keys()) if (h < below) this.shares.delete(h)
    for (const h of this.secretKeys.keys()) if (h < below) this.secretKeys.delete(h)
    if (below > this.forgottenBelow) this.forgottenBelow = below
  }

  /** sk_h once t+1 valid shares are in; undefined before. */
  secretKey(height: bigint): Uint8Array | undefined {
    const cached = this.secretKeys.get(height)
    if (cached) return cached
    const e = this.epochOf(height)
    const got = this.shares.get(height)
    if (!e || !got || got.size <= e.public.t) return undefined
    const { secretKey } = recoverBatchSecretKey(batchCommitments(e.public, height), [...got.values()])
    this.secretKeys.set(height, secretKey)
    this.shares.delete(height)
    return secretKey
  }

  /**
   * Unseals decided batch h: every order opened and checked (inner signature, trader, firstBatch);
   * invalid ones come back with their reason for the penalty. Throws SEAL_NOT_ENOUGH_SHARES before t+1 shares.
   */
  unseal(height: bigint, orders: readonly { orderId: Hex; sealed: SealedOrder }[]): UnsealedOrder[] {
    const sk = this.secretKey(height)
    if (!sk)
      throw new AllotError('SEAL_NOT_ENOUGH_SHARES', `batch ${height}: fewer than t+1 valid shares so far`)
    return unsealBatch(this.o.domain, height, orders, sk, {
      primitives: fastSealPrimitives,
      recover: recoverAddressFast,
    })
  }
}

/** Whether two key-share messages are the same message (a repeat), field by field. */
function sameKeyShare(a: KeyShare | undefined, b: KeyShare): boolean {
  return (
    !!a &&
    a.height === b.height &&
    a.index === b.index &&
    a.share.toLowerCase() === b.share.toLowerCase() &&
    a.validator.toLowerCase() === b.validator.toLowerCase() &&
    a.signature.v === b.signature.v &&
    a.signature.r.toLowerCase() === b.signature.r.toLowerCase() &&
    a.signature.s.toLowerCase() === b.signature.s.toLowerCase()
  )
}
