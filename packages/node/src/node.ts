import {
  type Address,
  AllotError,
  API_LIMITS,
  API_PROTOCOL,
  addressOf,
  decode,
  decodeApiResponse,
  encode,
  type Height,
  type Hex,
  MAX_ORDER_GOSSIP_BYTES,
  MAX_ORDERS_PER_GOSSIP_BUNDLE,
  type NodeInfo,
  type OrderCancel,
  orderCancelCodec,
  orderGossipCodec,
  type PrivateKey,
  SYNC_PROTOCOL,
  syncResponseCodec,
} from '@allot/protocol'
import type { PrivateKey as Libp2pPrivateKey, PeerId } from '@libp2p/interface'
import { type Logger, pino } from 'pino'
import {
  type BatchExportSource,
  catchUpOrders,
  createApiHandler,
  createSyncHandler,
  errorResponse,
  SYNC_MAX_REQUEST_BYTES,
  syncErrorFrame,
} from './api/index.js'
import { domainOf, type Genesis, loadOrCreatePeerKey } from './config/index.js'
import {
  type BalanceReader,
  type BatchSchedule,
  type BondReader,
  batchedExists,
  createWorkerVerifier,
  GenesisBalanceReader,
  GenesisBondReader,
  GenesisClockSchedule,
  Mempool,
  type MempoolEntry,
  OrderIntake,
  type SignatureVerifier,
  screenedExists,
  type WorkerVerifierOptions,
} from './mempool/index.js'
import type { NodeMetrics } from './metrics/index.js'
import {
  type AllotHost,
  allTopics,
  createHost,
  Gossip,
  handleProtocol,
  type ProtocolOptions,
  type RequestContext,
  type ResponseFrames,
  topicOf,
  verdictOf,
} from './network/index.js'
import { NodeStorage } from './storage/index.js'
import { NODE_VERSION } from './version.js'

export interface NodeOptions {
  genesis: Genesis
  dataDir: string
  /** Default: 127.0.0.1 on a free port. */
  listen?: string[]
  bootstrap?: string[]
  /** The validator key (separate from the network identity); absent on non-validating nodes. */
  validatorKey?: PrivateKey
  /** Network identity; default: `<dataDir>/peer-key`, created on first start. */
  peerKey?: Libp2pPrivateKey
  rpcUrl?: string
  /** Signature recovery; default a worker pool (noble). */
  verifier?: SignatureVerifier | WorkerVerifierOptions
  bonds?: BondReader
  balances?: BalanceReader
  schedule?: BatchSchedule
  maxMempoolOrders?: number
  /** Orders are pruned as expired this many batches after their last one (time for consensus to include them). */
  retainBatches?: number
  metrics?: NodeMetrics
  logger?: Logger
  /**
   * Do not penalise peers sharing an IP. Default: true only when the node listens on loopback alone (tests,
   * devnets on one machine); a node reachable from elsewhere scores co-location (gossipsub P6), so one
   * host's many peer ids cannot crowd its mesh.
   */
  allowColocation?: boolean
  apiDeadlineMs?: number
  /** Pull missed orders from each peer that connects (restart / late join). Default true. */
  syncOnConnect?: boolean
  /** Told of each order the mempool takes, once it is on disk. */
  onOrderAdded?: (entry: MempoolEntry) => void
  /**
   * How long an accepted order may wait for others to share its gossip bundle, in ms (default 0: until
   * the end of the current event-loop turn). A bundle leaves at once when it is full.
   */
  gossipBundleMs?: number
  /**
   * Advertise recent gossip to mesh peers too, so an order a forward missed is fetched at the next
   * heartbeat (default true; `network/mesh-gossip.ts`). Off only to show the loss it repairs.
   */
  gossipRepair?: boolean
}

/**
 * A node: storage, mempool and intake, the libp2p host with typed gossip, the API and sync
 * protocols. Consensus, sealing and settlement plug in through `host`, `gossip`,
 * `registerProtocol`, `storage`, `mempool` and `schedule`.
 */
export class AllotNode {
  readonly genesis: Genesis
  readonly logger: Logger
  readonly schedule: BatchSchedule
  readonly ordersTopic: string
  storage!: NodeStorage
  mempool!: Mempool
  intake!: OrderIntake
  host!: AllotHost
  gossip!: Gossip
  verifier!: SignatureVerifier
  validatorAddress: Address | undefined
  /**
   * The `/allot/api/1` handler itself (encoded request in, encoded answer out): the HTTP gateway answers
   * through it, so both front doors share one validation and one set of error codes.
   */
  apiHandler!: (req: Uint8Array, ctx: RequestContext) => Promise<ResponseFrames>
  private readonly unregister: (() => Promise<void>)[] = []
  private pruneTimer: NodeJS.Timeout | undefined
  private running = false
  private readonly syncing = new Map<string, Promise<number>>()
  private finalizedHeight = 0n
  private settledHeight = 0n
  private heightSource: (() => Height) | undefined
  private decidedOrderSource: ((id: Hex) => Promise<Uint8Array | undefined>) | undefined
  private batchKeySource: ((h: Height) => Promise<Uint8Array | undefined>) | undefined
  private batchExportSource: BatchExportSource | undefined
  /** Accepted orders waiting for this event-loop turn's gossip bundle (`publishOrder`). */
  private outgoingOrders: Uint8Array[] = []
  private cancelOutgoingFlush: (() => void) | undefined

  constructor(private readonly o: NodeOptions) {
    this.genesis = o.genesis
    this.logger = o.logger ?? pino({ level: 'silent' })
    this.ordersTopic = topicOf(o.genesis.networkId, 'orders')
    this.schedule =
      o.schedule ??
      new GenesisClockSchedule({
        genesisTime: o.genesis.genesisTime,
        batchIntervalMs: o.genesis.batchIntervalMs,
        intakeCutoffMs: o.genesis.intakeCutoffMs,
      })
    this.validatorAddress = o.validatorKey ? addressOf(o.validatorKey) : undefined
  }

  get peerId(): string {
    return this.host.peerId.toString()
  }

  /** The API multiaddrs (listen address + /p2p/<peer id>) clients dial. */
  apiAddrs(): string[] {
    return this.host.getMultiaddrs().map((m) => m.toString())
  }

  async start(): Promise<void> {
    const g = this.genesis
    const m = this.o.metrics
    this.storage = await NodeStorage.open(`${this.o.dataDir}/db`)
    this.mempool = new Mempool(this.storage, {
      maxOrders: this.o.maxMempoolOrders,
      onSizeChange: (n) => m?.mempool.orders.set(n),
      onAdded: this.o.onOrderAdded,
    })
    const loaded = await this.mempool.load()
    this.finalizedHeight = (await this.storage.latestFinalized())?.height ?? 0n
    this.storage.on('finalized', (v) => {
      if (v.height > this.finalizedHeight) this.finalizedHeight = v.height
    })
    this.verifier =
      this.o.verifier && 'recover' in this.o.verifier
        ? this.o.verifier
        : createWorkerVerifier(this.o.verifier ?? {})
    const bonds = this.o.bonds ?? new GenesisBondReader(g.bond.allowance)
    const bondAsset = g.assets.find((a) => a.symbol === g.bond.token)?.id ?? g.assets[0].id
    const balances = this.o.balances ?? new GenesisBalanceReader(bondAsset, bonds)
    const mayHave = (id: Hex) => this.storage.mayHaveStatus(id)
    const statuses = (ids: Hex[]) => this.storage.orderStatus.getMany(ids)
    const anyFinal = screenedExists(mayHave, batchedExists(statuses))
    const finalButCancelled = screenedExists(
      mayHave,
      batchedExists(statuses, (s) => s !== undefined && s.status !== 'cancelled'),
    )
    this.intake = new OrderIntake({
      rules: {
        domain: domainOf(g),
        assets: new Set(g.assets.map((a) => a.id)),
        sealingEnabled: g.sealing.enabled,
        perTraderMaxOrdersPerBatch: g.perTraderMaxOrdersPerBatch,
        minBond: g.bond.minBond,
      },
      schedule: this.schedule,
      mempool: this.mempool,
      verifier: this.verifier,
      metrics: m?.mempool,
      bonds,
      // level only for the ids its filter cannot rule out (almost none: a replay, a Bloom false positive)
      knownFinal: (ids, o) => (o?.referenced ? finalButCancelled : anyFinal)(ids),
    })

    const privateKey = this.o.peerKey ?? (await loadOrCreatePeerKey(this.o.dataDir))
    const listen = this.o.listen ?? ['/ip4/127.0.0.1/tcp/0']
    this.host = await createHost({
      privateKey,
      listen,
      bootstrap: this.o.bootstrap,
      // The DKG's topic too: its rejects (forged signatures, each a recovery) must cost the sender (issue 24).
      topics: allTopics(g.networkId),
      allowColocation: this.o.allowColocation ?? loopbackOnly(listen),
      gossipToMeshPeers: this.o.gossipRepair,
    })
    this.gossip = new Gossip(this.host.services.pubsub, {
      onVerdict: (topic, verdict, code) => m?.network.gossip.inc({ topic, verdict, code: code ?? 'OK' }),
    })
    this.gossip.subscribe(this.ordersTopic, {
      maxBytes: MAX_ORDER_GOSSIP_BYTES,
      validate: async (data) => {
        if (data[0] === 0) return this.intake.submit(data.subarray(1), false)
        if (data[0] === 1 || data[0] === 2) {
          const msg = decode(orderGossipCodec, data, MAX_ORDER_GOSSIP_BYTES)
          if (msg.kind === 'cancel') return this.intake.cancel(msg.cancel)
          if (msg.kind === 'bundle') return this.takeBundle(msg.orders)
        }
        throw new AllotError('WIRE_MALFORMED', 'unknown orders-topic message')
      },
    })

    const apiHandler = (this.apiHandler = createApiHandler({
      intake: this.intake,
      mempool: this.mempool,
      storage: this.storage,
      balances,
      info: () => this.info(),
      batchKey: (h) => this.batchKeySource?.(h) ?? Promise.resolve(undefined),
      batchExport: () => this.batchExportSource,
      publishOrder: (bytes) => this.publishOrder(bytes),
      publishCancel: (c) => this.publishCancel(c),
    }))
    await this.registerProtocol(API_PROTOCOL, apiHandler, {
      maxRequestBytes: API_LIMITS.maxRequestBytes,
      deadlineMs: this.o.apiDeadlineMs ?? 10_000,
      maxInboundStreams: 256,
      errorFrame: errorResponse,
      codeOf: (f) => (f[0] === 0 ? (decodeApiResponse(f) as { code?: string }).code : undefined),
    })
    await this.registerProtocol(
      SYNC_PROTOCOL,
      createSyncHandler(this.mempool, this.storage, {
        decidedOrder: async (id) => this.decidedOrderSource?.(id),
      }),
      {
        maxRequestBytes: SYNC_MAX_REQUEST_BYTES,
        deadlineMs: this.o.apiDeadlineMs ?? 10_000,
        maxInboundStreams: 16,
        errorFrame: syncErrorFrame,
        codeOf: (f) => (f[0] === 0 ? (decode(syncResponseCodec, f) as { code?: string }).code : undefined),
      },
    )

    this.host.addEventListener('peer:connect', () => m?.network.peers.set(this.host.getPeers().length))
    // Orders are pulled from peers that serve sync (nodes), once identify says so: API clients (the CLI,
    // AllotClient) connect too, and asking them only fails.
    this.host.addEventListener('peer:identify', (ev) => {
      if (this.o.syncOnConnect === false || !ev.detail.protocols.includes(SYNC_PROTOCOL)) return
      void this.syncFrom(ev.detail.peerId).catch(() => {})
    })
    this.host.addEventListener('peer:disconnect', () => m?.network.peers.set(this.host.getPeers().length))

    const retain = BigInt(this.o.retainBatches ?? 2)
    this.pruneTimer = setInterval(
      () => {
        const before = this.schedule.openBatch() - retain
        void this.mempool.pruneExpired(before).catch((e) => this.logger.error({ err: e }, 'prune failed'))
      },
      Math.min(g.batchIntervalMs, 5_000),
    )
    this.pruneTimer.unref()
    this.running = true
    this.logger.info(
      { peerId: this.peerId, addrs: this.apiAddrs(), mempool: loaded, validator: this.validatorAddress },
      'node started',
    )
  }

  /** Registers a length-prefixed request/response protocol (used by the API and sync; open to consensus). */
  async registerProtocol(
    protocol: string,
    handler: (req: Uint8Array, ctx: RequestContext) => Promise<ResponseFrames>,
    opts: ProtocolOptions,
  ): Promise<void> {
    const m = this.o.metrics
    const un = await handleProtocol(this.host, protocol, handler, {
      ...opts,
      onOutcome: (code, ms) => {
        m?.api.requests.inc({ protocol, code })
        m?.api.latency.observe({ protocol }, ms / 1000)
        opts.onOutcome?.(code, ms)
      },
    })
    this.unregister.push(un)
  }

  /** Pulls the orders a peer holds that we lack (once per peer at a time). */
  async syncFrom(peer: PeerId): Promise<number> {
    const key = peer.toString()
    const running = this.syncing.get(key)
    if (running) return running
    const p = catchUpOrders(this.host, peer, this.mempool, this.intake)
      .then((n) => {
        if (n > 0) this.logger.info({ peer: key, orders: n }, 'caught up orders')
        return n
      })
      .catch((e) => {
        if (this.running) this.logger.warn({ peer: key, code: (e as AllotError).code }, 'order sync failed')
        return 0
      })
      .finally(() => this.syncing.delete(key))
    this.syncing.set(key, p)
    return p
  }

  /** Waits for the catch-up syncs under way. */
  async syncIdle(): Promise<void> {
    while (this.syncing.size > 0) await Promise.all(this.syncing.values())
  }

  /**
   * Gossips an order this node accepted. The orders accepted in one event-loop turn leave as one
   * bundle (up to MAX_ORDERS_PER_GOSSIP_BUNDLE): gossipsub costs about the same per message whatever
   * it carries, so a burst costs a few messages instead of one per order. A lone order goes as itself.
   */
  publishOrder(bytes: Uint8Array): void {
    this.outgoingOrders.push(bytes)
    if (this.outgoingOrders.length >= MAX_ORDERS_PER_GOSSIP_BUNDLE) this.flushOrders()
    else if (this.cancelOutgoingFlush === undefined) {
      const wait = this.o.gossipBundleMs ?? 0
      if (wait > 0) {
        const t = setTimeout(() => this.flushOrders(), wait)
        this.cancelOutgoingFlush = () => clearTimeout(t)
      } else {
        const i = setImmediate(() => this.flushOrders())
        this.cancelOutgoingFlush = () => clearImmediate(i)
      }
    }
  }

  private flushOrders(): void {
    this.cancelOutgoingFlush?.()
    this.cancelOutgoingFlush = undefined
    const orders = this.outgoingOrders
    if (orders.length === 0 || !this.running) return
    this.outgoingOrders = []
    let data: Uint8Array
    if (orders.length === 1) {
      data = new Uint8Array(orders[0].length + 1)
      data[0] = 0
      data.set(orders[0], 1)
    } else {
      data = encode(orderGossipCodec, { kind: 'bundle', orders }, MAX_ORDER_GOSSIP_BYTES)
    }
    this.gossip
      .publish(this.ordersTopic, data)
      .catch((e) => this.logger.warn({ err: (e as Error).message, orders: orders.length }, 'publish failed'))
  }

  /**
   * A received bundle: every envelope through the intake pipeline on its own (each stored or
   * refused by its own rules). The bundle is forwarded only if it carried something new and nothing
   * bad: one order that must be rejected (bad signature, malformed...) rejects the bundle and costs
   * its sender, as a lone bad order would — an honest node bundles only orders it accepted; orders
   * only ignored (duplicates, a batch that just closed) make it an ignore.
   */
  private async takeBundle(envelopes: Uint8Array[]): Promise<number> {
    if (envelopes.length === 0) throw new AllotError('WIRE_MALFORMED', 'empty orders bundle')
    const outcomes = await this.intake.submitMany(envelopes, false)
    let accepted = 0
    let ignored: unknown
    for (const o of outcomes) {
      if (o.status === 'fulfilled') accepted++
      else if (verdictOf(o.reason) === 'reject') throw o.reason
      else ignored ??= o.reason
    }
    if (accepted === 0) throw ignored
    return accepted
  }

  publishCancel(c: OrderCancel): void {
    const data = encode(orderGossipCodec, { kind: 'cancel', cancel: c })
    void orderCancelCodec
    this.gossip
      .publish(this.ordersTopic, data)
      .catch((e) => this.logger.warn({ err: (e as Error).message }, 'publish failed'))
  }

  /** The batch pipeline serves the envelopes of decided orders to peers catching up over sync. */
  setDecidedOrderSource(f: (id: Hex) => Promise<Uint8Array | undefined>): void {
    this.decidedOrderSource = f
  }

  /** The batch pipeline (a validator) serves its processed heights to the API's `batchExport`. */
  setBatchExportSource(s: BatchExportSource): void {
    this.batchExportSource = s
  }

  /** Consensus names the height the network works on (shown in `info`); until then the genesis clock does. */
  setHeightSource(f: () => Height): void {
    this.heightSource = f
  }

  /** The sealing service answers PK_h for the API's `batchKey` (sealing on). */
  setBatchKeySource(f: (h: Height) => Promise<Uint8Array | undefined>): void {
    this.batchKeySource = f
  }

  /** The settlement adapter reports the last height settled on chain (shown in `info`). */
  setSettledHeight(h: Height): void {
    if (h > this.settledHeight) this.settledHeight = h
  }

  info(): NodeInfo {
    const g = this.genesis
    const openBatch = this.schedule.openBatch()
    const closesAt = this.schedule.proposalTime(openBatch) - g.intakeCutoffMs
    return {
      peerId: this.peerId,
      peers: this.host.getPeers().length,
      height: this.heightSource?.() ?? this.schedule.currentHeight(),
      finalized: this.finalizedHeight,
      settled: this.settledHeight,
      openBatch,
      version: NODE_VERSION,
      networkId: g.networkId,
      chainId: g.chainId,
      settlement: g.settlement,
      rpcUrl: this.o.rpcUrl ?? null,
      assets: g.assets.map((a) => ({
        symbol: a.symbol,
        kind: a.kind,
        ref: a.kind === 'token' ? (a.address as string) : (a.class as string),
        assetId: a.id,
        decimals: a.decimals,
      })),
      listenAddrs: this.apiAddrs().slice(0, 32),
      mempoolSize: this.mempool.size,
      sealing: g.sealing.enabled,
      batchIntervalMs: g.batchIntervalMs,
      intakeCutoffMs: g.intakeCutoffMs,
      submitMarginMs: Math.max(0, g.inclusionGraceMs - g.intakeCutoffMs),
      openBatchClosesInMs: Math.max(0, Math.floor(closesAt - Date.now())),
      validators: g.validators.map((v) => ({ address: v.address, peerId: v.peerId })),
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.flushOrders()
    this.running = false
    clearInterval(this.pruneTimer)
    for (const un of this.unregister.splice(0)) await un()
    this.gossip.close()
    await this.host.stop()
    await Promise.allSettled(this.syncing.values())
    await this.mempool.flush()
    await this.verifier.close()
    await this.storage.close()
    this.logger.info('node stopped')
  }
}

/** Whether every listen multiaddr is on a loopback address (127.0.0.0/8 or ::1). */
export function loopbackOnly(listen: readonly string[]): boolean {
  return (
    listen.length > 0 &&
    listen.every((a) => /^\/ip4\/127\.\d{1,3}\.\d{1,3}\.\d{1,3}\//.test(a) || /^\/ip6\/::1\//.test(a))
  )
}

export async function createNode(o: NodeOptions): Promise<AllotNode> {
  return new AllotNode(o)
}

export type { Height }

export { NODE_VERSION }
