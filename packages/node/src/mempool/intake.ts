import {
  type Address,
  AllotError,
  cancelDigest,
  checkSignatureShape,
  decodeSealedOrder,
  encodeSealedOrder,
  type Hex,
  keccak256Into,
  LIMITS,
  MAX_ORDER_AMOUNT,
  type NetworkDomain,
  type OrderCancel,
  orderDigest,
  type SealedOrder,
  type SignedOrder,
  toHex,
} from '@allot/protocol'
import type { BondReader } from './bonds.js'

/**
 * How far past the consensus height an order fetched because a proposal names it (`referenced`, which
 * skips the cut-off) may target: proposals name orders of the height being decided, a little ahead when
 * we lag; nothing a peer sends this way may fill mempools with far batches.
 */
const REFERENCED_AHEAD = 64n

import { type EnvelopeFields, envelopeDigester, rawSignatureFault, readSealedEnvelope } from './envelope.js'
import type { Mempool, MempoolEntry } from './mempool.js'
import type { BatchSchedule } from './schedule.js'
import { TraderIndex } from './trader-index.js'
import type { RecoveryJob, SignatureVerifier } from './verifier.js'

export interface IntakeRules {
  domain: NetworkDomain
  /** Known asset ids (genesis). */
  assets: ReadonlySet<Hex>
  sealingEnabled: boolean
  perTraderMaxOrdersPerBatch: number
  minBond: bigint
}

export interface IntakeDeps {
  rules: IntakeRules
  schedule: BatchSchedule
  mempool: Mempool
  verifier: SignatureVerifier
  bonds: BondReader
  /**
   * Whether each order already has a final status (cancelled, expired...) though it is no longer in
   * the mempool: a replay is a duplicate. An array instead of a promise when answered from memory.
   * With `referenced` (a proposal names the orders), a cancellation does not count: see `check`.
   */
  knownFinal?: (ids: Hex[], o?: { referenced?: boolean }) => boolean[] | Promise<boolean[]>
  now?: () => number
}

/** What intake takes: an envelope's bytes, a decoded order, or both (`submit`). */
export type IntakeInput = Uint8Array | SealedOrder | DecodedOrder

/** An order past its cheap checks, in flight through the rest. */
interface Candidate {
  /** Its place among the inputs. */
  at: number
  orderId: Hex
  bytes: Uint8Array
  order: SealedOrder | undefined
  trader: Address
  batch: bigint
  nonce: bigint
  plain: SignedOrder | undefined
  refused: boolean
}

/** An envelope the caller already decoded, with its exact bytes. */
export interface DecodedOrder {
  order: SealedOrder
  bytes: Uint8Array
}

export interface Accepted {
  orderId: Hex
  batch: bigint
  bytes: Uint8Array
  /** The decoded envelope (decoded when first read if intake did not need to). */
  readonly order: SealedOrder
}

function accepted(orderId: Hex, batch: bigint, bytes: Uint8Array, order: SealedOrder | undefined): Accepted {
  let o = order
  return {
    orderId,
    batch,
    bytes,
    get order() {
      o ??= decodeSealedOrder(bytes)
      return o
    },
  }
}

/**
 * The one validation pipeline behind the API and the gossip validator (DESIGN.md "A batch, step
 * by step", 1): cheap checks first — size, decode, fields, duplicate, batch open, rate, bond — then
 * the signature off the event loop, then the write to level. Every refusal is a coded AllotError.
 */
export class OrderIntake {
  private readonly inflight = new Set<Hex>()
  /**
   * (trader, nonce) of orders between their checks and their write, and their count per (trader,
   * batch): orders in flight at once (a `submitMany`, pipelined submits, gossip) must not share a
   * nonce or pass the per-trader cap together because neither was in the mempool yet.
   */
  private readonly inflightByTrader = new TraderIndex()
  /** An order id's bytes on their way to hex (`check`). */
  private readonly idScratch = new Uint8Array(32)
  private readonly now: () => number

  private readonly envelopeDigest: (envelope: Uint8Array) => Uint8Array

  constructor(private readonly d: IntakeDeps) {
    this.now = d.now ?? Date.now
    this.envelopeDigest = envelopeDigester(d.rules.domain)
  }

  /**
   * Validates and stores an order. `input` is the envelope's bytes (gossip, sync), a decoded order
   * (tools), or both when the caller already decoded them (the API: `bytes` must be exactly the
   * encoding of `order`, as the strict decoder guarantees for bytes it accepted).
   *
   * `referenced`: the order is fetched because a proposal or a decided batch names it. The cut-off, one
   * envelope per (trader, nonce), the per-trader cap and the bond are rules for new orders, each judged on
   * what this node saw first or reads now; one the network already put in a proposal is taken past them
   * (for any height consensus has not passed, at most 64 ahead), or validators that judged a hostile trader's
   * orders differently could never agree on a batch (docs/consensus.md "Hostile traders").
   */
  async submit(input: IntakeInput, local: boolean, o: { referenced?: boolean } = {}): Promise<Accepted> {
    const [r] = await this.submitMany([input], local, o)
    if (r.status === 'rejected') throw r.reason
    return r.value
  }

  /**
   * `submit` for several orders (a `submitMany` request, a gossip bundle, a sync page) as one unit:
   * each order's cheap checks in turn, then one final-status lookup, one recovery call and one level
   * write for all that passed them, instead of a chain of promises per order. The rules, their order
   * and the codes are those of `submit`; one outcome per input, in order, and a refusal fails only its
   * own order.
   */
  async submitMany(
    inputs: readonly IntakeInput[],
    local: boolean,
    o: { referenced?: boolean } = {},
  ): Promise<PromiseSettledResult<Accepted>[]> {
    const out = new Array<PromiseSettledResult<Accepted>>(inputs.length)
    const refuse = (c: Candidate, reason: unknown) => {
      out[c.at] = { status: 'rejected', reason }
      c.refused = true
    }
    const held: Candidate[] = []
    const now = this.now()
    for (let i = 0; i < inputs.length; i++) {
      try {
        held.push(this.hold(this.check(inputs[i], i, now, o.referenced === true)))
      } catch (e) {
        out[i] = { status: 'rejected', reason: e }
      }
    }
    try {
      let live = held
      // final status (a replay of an order no longer pending), then bond
      if (this.d.knownFinal && live.length > 0) {
        const asked = this.d.knownFinal(
          live.map((c) => c.orderId),
          { referenced: o.referenced === true },
        )
        const known = Array.isArray(asked) ? asked : await asked
        live.forEach((c, k) => {
          if (known[k])
            refuse(c, new AllotError('ORDER_DUPLICATE', `order ${c.orderId} already had its final status`))
        })
        live = live.filter((c) => !c.refused)
      }
      // signatures first, then bonds: a bond is a chain read, and a stranger's junk must not buy one
      // (issue 24: a bundle of 64 unsigned strangers cost ~128 RPC calls and no penalty)
      // signatures: the envelope (its digest and signature straight from the bytes), and a plain
      // payload's inner order; shape errors are the order's own
      const jobs: RecoveryJob[] = []
      const first: number[] = []
      for (const c of live) {
        try {
          const raw = c.bytes.subarray(c.bytes.length - 65)
          const fault = rawSignatureFault(raw)
          if (fault) throw new AllotError('ORDER_BAD_SIGNATURE', fault)
          if (c.plain) checkSignatureShape(c.plain.signature, 'ORDER_BAD_SIGNATURE')
          first.push(jobs.length)
          jobs.push({ digest: this.envelopeDigest(c.bytes), raw })
          if (c.plain)
            jobs.push({
              digest: orderDigest(this.d.rules.domain, c.plain.order),
              signature: c.plain.signature,
            })
        } catch (e) {
          refuse(c, e)
          first.push(-1)
        }
      }
      const signers = jobs.length > 0 ? await this.d.verifier.recover(jobs) : []
      const signed: Candidate[] = []
      live.forEach((c, k) => {
        if (c.refused) return
        const j = first[k]
        if (signers[j] !== c.trader || (c.plain && signers[j + 1] !== c.trader)) {
          refuse(c, new AllotError('ORDER_BAD_SIGNATURE', 'signature is not the trader’s on this network'))
          return
        }
        signed.push(c)
      })
      // The bond is a rule for new orders too, read at each node's own chain head: two halves of the
      // validators a block apart must not refuse each other's proposals over it (issue 24).
      const bonded = o.referenced ? signed : await this.checkBonds(signed, refuse)
      const entries: MempoolEntry[] = []
      const stored: Candidate[] = []
      for (const c of bonded) {
        entries.push({
          id: c.orderId,
          trader: c.trader,
          batch: c.batch,
          expiresAfter: c.plain ? c.plain.order.lastBatch : c.batch,
          nonce: c.nonce,
          local,
          receivedAt: now,
          bytes: c.bytes,
        })
        stored.push(c)
      }
      const refusals = entries.length > 0 ? await this.d.mempool.addMany(entries) : []
      stored.forEach((c, k) => {
        const r = refusals[k]
        if (r) refuse(c, r)
        else out[c.at] = { status: 'fulfilled', value: accepted(c.orderId, c.batch, c.bytes, c.order) }
      })
    } catch (e) {
      // the lookup, the verifier or the store failed as a whole: every order still waiting shares it
      for (const c of held) if (!c.refused && out[c.at] === undefined) refuse(c, e)
    } finally {
      for (const c of held) this.release(c)
    }
    return out
  }

  /** Size, decode, fields, duplicate, batch open, rate: the checks that need no I/O. Throws the refusal. */
  private check(input: IntakeInput, at: number, now: number, referenced: boolean): Candidate {
    let order: SealedOrder | undefined
    let fields: EnvelopeFields | null
    let bytes: Uint8Array
    if (input instanceof Uint8Array || 'bytes' in input) {
      bytes = input instanceof Uint8Array ? input : input.bytes
      if (bytes.length > LIMITS.maxSealedOrderBytes) {
        throw new AllotError(
          'WIRE_TOO_LARGE',
          `order of ${bytes.length} bytes, at most ${LIMITS.maxSealedOrderBytes}`,
        )
      }
      if (input instanceof Uint8Array) {
        // A sealed payload is read in place (envelope.ts); a plain one, or anything the reader does
        // not vouch for, is decoded (which throws the exact wire error).
        fields = readSealedEnvelope(input)
        if (!fields) order = decodeSealedOrder(input)
      } else {
        order = input.order
        fields = null
      }
    } else {
      order = input
      fields = null
      bytes = encodeSealedOrder(input)
    }
    const { rules, schedule, mempool } = this.d
    const { batch, nonce } = fields ?? (order as SealedOrder)
    const trader = (fields?.trader ?? (order as SealedOrder).trader.toLowerCase()) as Address
    const plain = order?.payload.kind === 'plain' ? order.payload.order : undefined
    // cheap field checks
    if (plain) {
      if (rules.sealingEnabled)
        throw new AllotError('ORDER_PLAIN_REFUSED', 'this network takes sealed orders only')
      const inner = plain.order
      if (inner.trader.toLowerCase() !== trader)
        throw new AllotError('ORDER_BAD_SIGNATURE', 'inner order names another trader')
      if (inner.firstBatch !== batch)
        throw new AllotError('ORDER_BAD_BATCH', 'inner order targets another batch')
      if (inner.lastBatch < inner.firstBatch)
        throw new AllotError('ORDER_BAD_BATCH', 'lastBatch is before firstBatch')
      if (inner.sellAmount === 0n || inner.buyAmount === 0n)
        throw new AllotError('ORDER_BAD_AMOUNT', 'amounts must be > 0')
      if (inner.sellAmount > MAX_ORDER_AMOUNT || inner.buyAmount > MAX_ORDER_AMOUNT)
        throw new AllotError('ORDER_BAD_AMOUNT', `amounts must be at most ${MAX_ORDER_AMOUNT} (2¹¹² − 1)`)
      if (inner.sellAsset === inner.buyAsset)
        throw new AllotError('ORDER_BAD_ASSET', 'sells and buys the same asset')
      for (const a of [inner.sellAsset, inner.buyAsset]) {
        if (!rules.assets.has(a.toLowerCase() as Hex))
          throw new AllotError('ORDER_UNKNOWN_ASSET', `asset ${a} is not in genesis`)
      }
    }
    // The codec is canonical (one encoding per value, the decoder refuses any other), so the id
    // (keccak256 of the encoded envelope, `orderIdOf`) is the hash of the bytes we hold.
    keccak256Into(bytes, this.idScratch)
    const orderId = toHex(this.idScratch)
    // duplicate (replays, the same nonce twice, a race between API and gossip)
    // A cancellation loses the race to a proposal that names the order (`referenced`): it reaches the
    // validators by gossip, not by consensus, so some may have it and others not; refusing such proposals
    // at the first and proposals without the order at the others (the inclusion rule) left no proposal a
    // polka (test/consensus-trader.test.ts). The order is taken back and ends included, as it would have
    // had the cancellation come a moment later.
    const final = mempool.finalStatus(orderId)
    if (
      mempool.has(orderId) ||
      this.inflight.has(orderId) ||
      (final !== undefined && !(referenced && final.status === 'cancelled'))
    )
      throw new AllotError('ORDER_DUPLICATE', `order ${orderId} is known`)
    // One envelope per (trader, nonce) and at most the cap per (trader, batch) are rules for new orders.
    // One a proposal names (`referenced`) is taken past both: a trader who sent conflicting envelopes, or
    // two caps' worth, to two halves of the validators would otherwise have each half refuse the other's
    // proposals for good (issue 24). The batch keeps what it keeps of them; the trader pays for the rest.
    if (!referenced) {
      const owner = mempool.nonceOwner(trader, nonce)
      if (owner !== undefined)
        throw new AllotError('ORDER_DUPLICATE', `nonce ${nonce} already used by ${owner}`)
      if (this.inflightByTrader.nonceOwner(trader, nonce) !== undefined)
        throw new AllotError('ORDER_DUPLICATE', `nonce ${nonce} already used by an order in flight`)
    }
    // target batch open
    if (!referenced) schedule.checkOpen(batch, now)
    else if (batch < schedule.currentHeight(now))
      throw new AllotError('ORDER_TARGET_CLOSED', `batch ${batch} is behind consensus`)
    else if (batch > schedule.currentHeight(now) + REFERENCED_AHEAD)
      throw new AllotError(
        'ORDER_BAD_BATCH',
        `batch ${batch} is more than ${REFERENCED_AHEAD} ahead of consensus`,
      )
    // rate: per trader per batch (genesis perTraderMaxOrdersPerBatch)
    if (
      !referenced &&
      mempool.countFor(trader, batch) + this.inflightByTrader.count(trader, batch) >=
        rules.perTraderMaxOrdersPerBatch
    ) {
      throw new AllotError(
        'ORDER_RATE_LIMITED',
        `trader has ${rules.perTraderMaxOrdersPerBatch} orders for batch ${batch}`,
      )
    }
    return { at, orderId, bytes, order, trader, batch, nonce, plain, refused: false }
  }

  /** Marks a checked order as in flight until `release`. */
  private hold(c: Candidate): Candidate {
    this.inflight.add(c.orderId)
    this.inflightByTrader.add(c.trader, c.nonce, c.batch, c.orderId)
    return c
  }

  private release(c: Candidate): void {
    this.inflight.delete(c.orderId)
    this.inflightByTrader.remove(c.trader, c.nonce, c.batch, c.orderId)
  }

  /**
   * Refuses the orders whose trader's bond is below the minimum; returns the others. A reader that
   * answers from memory (the genesis allowance, a cache) is not awaited.
   */
  private async checkBonds(
    live: Candidate[],
    refuse: (c: Candidate, reason: unknown) => void,
  ): Promise<Candidate[]> {
    const bonds = this.d.bonds
    const owed = live.map((c) => bonds.bondOf(c.trader))
    const settled = owed.some((b) => typeof b !== 'bigint') ? await Promise.allSettled(owed) : undefined
    const min = this.d.rules.minBond
    return live.filter((c, k) => {
      let bond: bigint
      if (settled) {
        const s = settled[k]
        if (s.status === 'rejected') {
          refuse(c, s.reason)
          return false
        }
        bond = s.value
      } else bond = owed[k] as bigint
      if (bond < min) refuse(c, new AllotError('ORDER_INSUFFICIENT_BOND', `bond ${bond} below ${min}`))
      return !c.refused
    })
  }

  /** A signed cancellation: the same path (shape, known order, trader, signature), then `cancelled`. */
  async cancel(c: OrderCancel): Promise<{ orderId: Hex }> {
    const entry = this.d.mempool.get(c.orderId)
    if (!entry) {
      if (
        this.d.mempool.finalStatus(c.orderId) ||
        (this.d.knownFinal && (await this.d.knownFinal([c.orderId]))[0])
      ) {
        throw new AllotError('ORDER_DUPLICATE', `order ${c.orderId} is no longer pending`)
      }
      throw new AllotError('ORDER_NOT_FOUND', `order ${c.orderId} is not pending here`)
    }
    if (entry.trader !== c.trader.toLowerCase())
      throw new AllotError('ORDER_BAD_SIGNATURE', 'cancellation by another trader')
    const [signer] = await this.d.verifier.recover([
      {
        digest: cancelDigest(this.d.rules.domain, { trader: entry.trader, orderId: c.orderId }),
        signature: c.signature,
      },
    ])
    if (signer !== entry.trader)
      throw new AllotError('ORDER_BAD_SIGNATURE', 'cancellation signature is not the trader’s')
    if (!this.d.mempool.has(c.orderId))
      throw new AllotError('ORDER_DUPLICATE', `order ${c.orderId} is no longer pending`)
    await this.d.mempool.remove([c.orderId], 'cancelled', {
      error: { code: 'ORDER_CANCELLED', message: 'its trader cancelled it before its batch was decided' },
    })
    return { orderId: c.orderId }
  }
}
