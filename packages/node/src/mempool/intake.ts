import {
  type Address,
  AllotError,
  cancelDigest,
  decodeSealedOrder,
  encodeSealedOrder,
  type Hex,
  keccak256,
  LIMITS,
  type NetworkDomain,
  type OrderCancel,
  orderDigest,
  type SealedOrder,
  toHex,
} from '@allot/protocol'
import type { BondReader } from './bonds.js'
import { type EnvelopeFields, envelopeDigester, readSealedEnvelope, signatureOf } from './envelope.js'
import type { Mempool } from './mempool.js'
import type { BatchSchedule } from './schedule.js'
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
  /** Final statuses (cancelled, expired...) of orders no longer in the mempool: a replay is a duplicate. */
  isKnownFinal?: (id: Hex) => Promise<boolean>
  now?: () => number
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
  private readonly inflightNonces = new Set<string>()
  private readonly inflightPerTraderBatch = new Map<string, number>()
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
   */
  /**
   * `referenced`: the order is fetched because a proposal or a decided batch names it. The intake cut-off is a
   * rule for new orders; one the network already put in a batch is taken for any height consensus has not
   * passed, or validators that closed the batch a moment earlier than the proposer could never agree on it.
   */
  async submit(
    input: Uint8Array | SealedOrder | DecodedOrder,
    local: boolean,
    o: { referenced?: boolean } = {},
  ): Promise<Accepted> {
    // size, decode
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
      if (inner.sellAsset === inner.buyAsset)
        throw new AllotError('ORDER_BAD_ASSET', 'sells and buys the same asset')
      for (const a of [inner.sellAsset, inner.buyAsset]) {
        if (!rules.assets.has(a.toLowerCase() as Hex))
          throw new AllotError('ORDER_UNKNOWN_ASSET', `asset ${a} is not in genesis`)
      }
    }
    // The codec is canonical (one encoding per value, the decoder refuses any other), so the id
    // (keccak256 of the encoded envelope, `orderIdOf`) is the hash of the bytes we hold.
    const orderId = toHex(keccak256(bytes))
    // duplicate (replays, the same nonce twice, a race between API and gossip)
    if (mempool.has(orderId) || this.inflight.has(orderId) || mempool.finalStatus(orderId))
      throw new AllotError('ORDER_DUPLICATE', `order ${orderId} is known`)
    const owner = mempool.nonceOwner(trader, nonce)
    if (owner !== undefined)
      throw new AllotError('ORDER_DUPLICATE', `nonce ${nonce} already used by ${owner}`)
    const nonceKey = `${trader}:${nonce}`
    if (this.inflightNonces.has(nonceKey))
      throw new AllotError('ORDER_DUPLICATE', `nonce ${nonce} already used by an order in flight`)
    // target batch open
    if (!o.referenced) schedule.checkOpen(batch, this.now())
    else if (batch < schedule.currentHeight(this.now()))
      throw new AllotError('ORDER_TARGET_CLOSED', `batch ${batch} is behind consensus`)
    // rate: per trader per batch (genesis perTraderMaxOrdersPerBatch)
    const rateKey = `${trader}:${batch}`
    const flying = this.inflightPerTraderBatch.get(rateKey) ?? 0
    if (mempool.countFor(trader, batch) + flying >= rules.perTraderMaxOrdersPerBatch) {
      throw new AllotError(
        'ORDER_RATE_LIMITED',
        `trader has ${rules.perTraderMaxOrdersPerBatch} orders for batch ${batch}`,
      )
    }
    this.inflight.add(orderId)
    this.inflightNonces.add(nonceKey)
    this.inflightPerTraderBatch.set(rateKey, flying + 1)
    try {
      if (this.d.isKnownFinal && (await this.d.isKnownFinal(orderId))) {
        throw new AllotError('ORDER_DUPLICATE', `order ${orderId} already had its final status`)
      }
      const owed = this.d.bonds.bondOf(trader)
      // A reader that answers from memory (the genesis allowance, a cache) is not awaited: each
      // await is a promise and a turn of the microtask queue per order.
      const bond = typeof owed === 'bigint' ? owed : await owed
      if (bond < rules.minBond)
        throw new AllotError('ORDER_INSUFFICIENT_BOND', `bond ${bond} below ${rules.minBond}`)
      // signatures: the envelope (its digest and signature straight from the bytes), and a plain
      // payload's inner order
      const raw = bytes.subarray(bytes.length - 65)
      const jobs: RecoveryJob[] = [
        {
          digest: this.envelopeDigest(bytes),
          raw,
          get signature() {
            return signatureOf(raw)
          },
        },
      ]
      if (plain) jobs.push({ digest: orderDigest(rules.domain, plain.order), signature: plain.signature })
      const signers = await this.d.verifier.recover(jobs)
      if (signers.some((s) => s !== trader)) {
        throw new AllotError('ORDER_BAD_SIGNATURE', 'signature is not the trader’s on this network')
      }
      const expiresAfter = plain ? plain.order.lastBatch : batch
      await mempool.add({
        id: orderId,
        trader,
        batch,
        expiresAfter,
        nonce,
        local,
        receivedAt: this.now(),
        bytes,
      })
      return accepted(orderId, batch, bytes, order)
    } finally {
      this.inflight.delete(orderId)
      this.inflightNonces.delete(nonceKey)
      const n = (this.inflightPerTraderBatch.get(rateKey) ?? 1) - 1
      if (n <= 0) this.inflightPerTraderBatch.delete(rateKey)
      else this.inflightPerTraderBatch.set(rateKey, n)
    }
  }

  /** A signed cancellation: the same path (shape, known order, trader, signature), then `cancelled`. */
  async cancel(c: OrderCancel): Promise<{ orderId: Hex }> {
    const entry = this.d.mempool.get(c.orderId)
    if (!entry) {
      if (
        this.d.mempool.finalStatus(c.orderId) ||
        (this.d.isKnownFinal && (await this.d.isKnownFinal(c.orderId)))
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
    await this.d.mempool.remove([c.orderId], 'cancelled')
    return { orderId: c.orderId }
  }
}
