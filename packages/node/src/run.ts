import { writeSync } from 'node:fs'
import {
  type Address,
  AllotError,
  decode,
  encode,
  type Hex,
  type KeyShare,
  keyShareCodec,
  type PrivateKey,
  toHex,
  type ValidatorEpoch,
} from '@allot/protocol'
import { fetchCertificate, fetchEnvelopes } from './api/index.js'
import {
  BatchPipeline,
  type ChainView,
  contractChainView,
  contractSettler,
  FAULT_POINTS,
  type FaultPoint,
  type BatchPipeline as Pipeline,
} from './batch/index.js'
import { domainOf } from './config/index.js'
import {
  ConsensusSchedule,
  ConsensusService,
  keyVerifier,
  proposerOf,
  verifyCertificate,
} from './consensus/index.js'
import { recoverAddressFast } from './crypto/index.js'
import { Gateway, type GatewayOptions } from './gateway/index.js'
import { MetricsServer, type Registry } from './metrics/index.js'
import { topicOf } from './network/index.js'
import { type AllotNode, createNode, type NodeOptions } from './node.js'
import {
  type EpochDkg,
  levelSealingStore,
  SealingService,
  sealingOpener,
  wireEpochDkg,
  wireKeyShareFetch,
} from './sealing/index.js'
import { type Service, type ServiceEntry, ServiceList } from './services.js'
import {
  BatchSubmitter,
  ChainBalanceReader,
  type ChainClients,
  ChainRefPoller,
  connectChain,
} from './settlement/index.js'

export interface RunNodeOptions extends NodeOptions {
  /** Blocks below the chain head that count as final (chainRef). Default 0 (devnets: anvil mines on demand). */
  confirmations?: number
  /** How long a validator that did not propose a batch waits before settling it itself. */
  settleTakeoverMs?: number
  /**
   * Sealing (genesis `sealing.enabled`): an epoch of batch keys to add at start (the devnet's dealt
   * first epoch: public part plus this validator's shares), kept in the node's store from then on.
   */
  sealingEpoch?: ValidatorEpoch
  /** The pipeline's balances when there is no RPC URL (in-process tests); default: nothing available. */
  chainView?: ChainView
  /** How long a decided batch waits for t+1 key shares before its processing fails. Default 30 s. */
  unsealDeadlineMs?: number
  /** The HTTP/JSON gateway and explorer (`--http`); off when absent. */
  http?: GatewayOptions
  /** Serve `metrics`' registry on `http://<host>:<port>/metrics` (the first service, stopped last). */
  metricsHttp?: { registry: Registry; port: number; host: string }
}

/** Largest KeyShare message on the unseal topic (an encoded share is ~150 bytes). */
const MAX_KEY_SHARE_BYTES = 512

/** A running node with everything a validator needs: chain reader, consensus, the batch pipeline, settlement. */
export interface RunningNode {
  node: AllotNode
  consensus?: ConsensusService
  pipeline?: Pipeline
  /** The sealing service (sealing on): batch keys, released and collected shares. */
  sealing?: SealingService
  /** The validators' DKG of later epochs (sealing on). */
  dkg?: EpochDkg
  chain?: ChainClients
  /** The HTTP gateway, when `http` was given (its `url` once started). */
  gateway?: Gateway
  /** The metrics endpoint (`metricsHttp`): its URL once started. */
  metricsServer?: MetricsServer
  /** The services running, in start order (`stop` stops them in reverse). */
  services(): string[]
  /** The height consensus works on, the last certified and the last settled batch. */
  progress(): { height: bigint; finalized: bigint; settled: bigint }
  stop(): Promise<void>
}

/**
 * Assembles and starts a node (STYLE.md: services assembled in one place). With an RPC URL the node reads
 * bonds and balances from the settlement contract; with a validator key it also runs consensus, clears
 * decided batches, attests, and settles certified ones.
 *
 * The node is one ordered list of services (`ServiceList`): metrics endpoint → chain view → node (storage,
 * mempool, host, gossip, API) → sealing → DKG → batch pipeline → consensus. Each is constructed once those
 * before it have started (it takes what it needs from them), and they stop in reverse: consensus first,
 * the metrics endpoint last. docs/node.md "Services".
 */
export async function runNode(o: RunNodeOptions): Promise<RunningNode> {
  const g = o.genesis
  const m = o.metrics
  let chain: ChainClients | undefined
  let reader: ChainBalanceReader | undefined
  if (o.rpcUrl) {
    chain = await connectChain({
      rpcUrl: o.rpcUrl,
      chainId: Number(g.chainId),
      privateKey: o.validatorKey ? (toHex(o.validatorKey) as Hex) : undefined,
      pollingIntervalMs: Math.min(250, Math.max(50, Math.floor(g.batchIntervalMs / 4))),
    })
    const bond = g.assets.find((a) => a.symbol === g.bond.token)
    reader = new ChainBalanceReader({
      clients: chain,
      settlement: g.settlement,
      confirmations: o.confirmations ?? 0,
      bondToken: (bond?.address ?? g.assets[0].address) as Address,
      minBond: g.bond.minBond,
      tokens: g.assets.filter((a) => a.kind === 'token').map((a) => a.address as Address),
    })
  }
  // Validators and the nodes they serve open batches as consensus reaches them, not by the wall clock.
  const schedule =
    o.schedule ??
    new ConsensusSchedule({
      genesisTime: g.genesisTime,
      batchIntervalMs: g.batchIntervalMs,
      intakeCutoffMs: g.intakeCutoffMs,
    })
  const node = await createNode({ ...o, schedule, bonds: o.bonds ?? reader, balances: o.balances ?? reader })
  // Sealing: the validator index order is the sorted validator set (consensus's order too); share i
  // of every dealt or generated epoch belongs to the i-th address of it.
  const validators = g.validators.map((v) => v.address.toLowerCase() as Address).sort()
  /** Ends the waits that outlive a stopping pipeline: an opener's wait for shares, a settlement's takeover. */
  const stopping = new AbortController()

  let metricsServer: MetricsServer | undefined
  let chainView: ChainRefPoller | undefined
  let sealing: SealingService | undefined
  let dkg: EpochDkg | undefined
  let fetchMissingShares: ((h: bigint) => void) | undefined
  let pipeline: BatchPipeline | undefined
  let consensus: ConsensusService | undefined
  let settled = 0n

  const entries: ServiceEntry[] = []
  const http = o.metricsHttp
  if (http)
    entries.push({
      name: 'metrics',
      create: () => (metricsServer = new MetricsServer({ ...http, logger: node.logger })),
    })
  const r = reader
  if (r && o.validatorKey) {
    const c = chain as ChainClients
    entries.push({
      name: 'chain-view',
      create: () =>
        (chainView = new ChainRefPoller({
          read: () => r.chainRef(),
          head: () => c.publicClient.getBlockNumber({ cacheTime: 0 }),
          everyMs: Math.max(200, g.batchIntervalMs / 2),
          logger: node.logger.child({ service: 'chain-view' }),
          metrics: m?.settlement,
        })),
    })
  }
  entries.push({ name: 'node', create: () => node })
  if (g.sealing.enabled) {
    entries.push({ name: 'sealing', create: () => sealingService() })
    entries.push({ name: 'dkg', create: () => dkgService() })
  }
  if (o.validatorKey) {
    const key = o.validatorKey
    entries.push({ name: 'batch', create: () => batchService() })
    entries.push({ name: 'consensus', create: () => consensusService(key) })
  }

  /** The sealing service with its unseal topic and key-share protocol. */
  function sealingService(): Service {
    const unsealTopic = topicOf(g.networkId, 'unseal')
    const s = new SealingService({
      domain: domainOf(g),
      validators,
      store: levelSealingStore(node.storage),
      validatorKey: o.validatorKey,
      publishShare: async (ks) => {
        await node.gossip.publish(unsealTopic, encode(keyShareCodec, ks)).catch(() => 0)
      },
      metrics: m?.sealing,
    })
    sealing = s
    return {
      async start() {
        await s.start()
        const e = o.sealingEpoch
        if (e && !(await s.batchKey(e.public.startHeight))) await s.addEpoch(e)
        node.gossip.subscribe<KeyShare>(unsealTopic, {
          maxBytes: MAX_KEY_SHARE_BYTES,
          // A share that fails its checks (signer, index, Feldman commitments) is rejected: the peer pays.
          validate: async (data) => {
            const ks = decode(keyShareCodec, data, MAX_KEY_SHARE_BYTES)
            const v = s.onShare(ks)
            // Lacking the share's epoch (restarted mid-DKG, a late joiner, a non-validator) is ours, not the
            // sender's: ignored, so honest peers are not graylisted for it; a share that fails its checks rejects.
            if (!v.accepted)
              throw new AllotError(
                v.code,
                v.message,
                v.code === 'SEAL_NO_BATCH_KEY' ? { gossip: 'ignore' } : undefined,
              )
            return ks
          },
        })
        node.setBatchKeySource((h) => s.batchKey(h))
        fetchMissingShares = await wireKeyShareFetch(node, s, g)
      },
      async stop() {
        node.gossip.unsubscribe(unsealTopic)
        await s.stop()
      },
    }
  }

  /** The validators' DKG of later epochs, on its topic and protocols. */
  async function dkgService(): Promise<Service> {
    const d = await wireEpochDkg(node, sealing as SealingService, g, validators, o.validatorKey, m?.sealing)
    dkg = d
    return {
      start: () => d.start(),
      async stop() {
        node.gossip.unsubscribe(topicOf(g.networkId, 'dkg'))
        await d.stop()
      },
    }
  }

  function batchService(): Service {
    const certVerifier = keyVerifier(domainOf(g), recoverAddressFast)
    const p = new BatchPipeline({
      genesis: g,
      domain: domainOf(g),
      storage: node.storage,
      mempool: node.mempool,
      chain:
        reader && chain
          ? contractChainView(reader, chain, g.settlement)
          : (o.chainView ?? { available: async () => 0n, settledHeightAt: async () => 0n }),
      attest: async (h, res) => consensus?.attest(h, res),
      settler:
        chain && reader
          ? contractSettler(
              new BatchSubmitter({
                clients: chain,
                settlement: g.settlement,
                takeoverMs: o.settleTakeoverMs ?? Math.max(2000, 3 * g.batchIntervalMs),
                metrics: m?.settlement,
              }),
              chain,
              g.settlement,
              stopping.signal,
            )
          : undefined,
      logger: node.logger.child({ service: 'batch' }),
      onSettled: (h) => {
        node.setSettledHeight(h)
        if (h > settled) m?.settlement.settledHeight.set(Number((settled = h)))
      },
      opener: sealing
        ? sealingOpener(sealing, {
            deadlineMs: o.unsealDeadlineMs,
            onWaiting: fetchMissingShares,
            signal: stopping.signal,
            metrics: m?.sealing,
          })
        : undefined,
      peers: {
        // Ask each connected peer in turn until one answers (a restarted node catching up).
        envelopes: async (ids) => {
          for (const peer of node.host.getPeers()) {
            const got = await fetchEnvelopes(node.host, peer, ids).catch(() => [])
            if (got.length >= ids.length) return got
          }
          return []
        },
        certificate: async (h) => {
          for (const peer of node.host.getPeers()) {
            const cert = await fetchCertificate(node.host, peer, h).catch(() => undefined)
            if (cert) return cert
          }
          return undefined
        },
      },
      verifyCertificate: (cert) => verifyCertificate(cert, validators, certVerifier.result).ok,
      faultPoint: failAt(),
      proposerOf: async (h) => {
        const round = await consensus?.decidedRound(h)
        return round === undefined ? undefined : proposerOf(validators, h, round)
      },
      metrics: m?.batch,
    })
    pipeline = p
    return {
      async start() {
        await p.start()
        node.setDecidedOrderSource((id) => p.decidedOrder(id))
        node.setBatchExportSource(p)
      },
      async stop() {
        stopping.abort()
        await p.stop()
      },
    }
  }

  function consensusService(key: PrivateKey): Service {
    const p = pipeline as BatchPipeline
    const c = new ConsensusService(node, {
      validatorKey: key,
      chainRef: () => chainView?.chainRef ?? 0n,
      onChainRefAhead: () => chainView?.refresh(),
      onDecided: (d) => {
        // The decision is persisted and this validator's share of sk_h released first (alongside the
        // pipeline, whose opener waits for t+1 shares): never a share of an undecided batch.
        if (sealing)
          void sealing
            .onDecided(d.height, d.content.dkgRefs)
            .catch((err) => node.logger.error({ height: String(d.height), err }, 'share release failed'))
        void p.decided(d.content, proposerOf(validators, d.height, d.round)).catch(() => {})
      },
      onCertified: (cert) => void p.certified(cert).catch(() => {}),
      dkg,
      metrics: m?.consensus,
    })
    consensus = c
    return {
      async start() {
        await c.start()
        // Heights decided before a restart but not processed, and results not yet certified, resume now.
        void p.resume().catch((err) => node.logger.error({ err }, 'batch pipeline resume failed'))
        node.setHeightSource(() => c.height)
        if (schedule instanceof ConsensusSchedule) {
          schedule.bind(() => ({
            height: c.height,
            parentTimestamp: Number(c.driver.state.parent.timestamp),
          }))
        }
      },
      stop: () => c.stop(),
    }
  }

  const progress = () => ({
    height: consensus?.height ?? node.schedule.currentHeight(),
    finalized: pipeline?.lastCertified ?? 0n,
    settled: pipeline?.lastSettled ?? 0n,
  })
  // The HTTP gateway is the last service: it answers only once everything it reads from runs, and stops first.
  let gateway: Gateway | undefined
  const gatewayOptions = o.http
  if (gatewayOptions) {
    entries.push({
      name: 'gateway',
      create: () => {
        const bp = pipeline
        gateway = new Gateway(
          {
            api: node.apiHandler,
            storage: node.storage,
            genesis: g,
            progress,
            peers: () => node.host.getPeers().map((p) => p.toString()),
            selfPeerId: node.peerId,
            validator: node.validatorAddress,
            book: bp ? (h) => bp.bookAt(h) : undefined,
            attested: () => consensus?.attestedHeights() ?? new Map(),
          },
          gatewayOptions,
          node.logger.child({ service: 'gateway' }),
        )
        return gateway
      },
    })
  }
  const services = new ServiceList(node.logger.child({ service: 'services' }))
  await services.start(entries)

  return {
    node,
    consensus,
    pipeline,
    sealing,
    dkg,
    chain,
    get gateway() {
      return gateway
    },
    metricsServer,
    services: () => services.names,
    progress,
    stop: () => services.stop(),
  }
}

/**
 * The crash drill's fault injection (test/devnet.e2e.test.ts; CometBFT's `libs/fail` does the same with
 * `FAIL_TEST_INDEX`): with `ALLOT_FAIL_AT=<point>` (one of FAULT_POINTS) the node kills itself with
 * SIGKILL the first time its batch pipeline reaches that point for a batch holding orders — no clean-up,
 * as a power cut or the OOM killer would. Unset, nothing is ever called.
 */
function failAt(): ((p: FaultPoint, h: bigint, orders: number) => void) | undefined {
  const at = process.env.ALLOT_FAIL_AT
  if (!at) return undefined
  if (!(FAULT_POINTS as readonly string[]).includes(at))
    throw new AllotError('CONFIG_INVALID', `ALLOT_FAIL_AT must be one of ${FAULT_POINTS.join(', ')}`)
  return (point, h, orders) => {
    if (point !== at || orders === 0) return
    // Written synchronously: the logger's buffered lines die with the process.
    const line = { level: 50, point, height: String(h), msg: 'ALLOT_FAIL_AT: killing this process' }
    writeSync(2, `${JSON.stringify(line)}\n`)
    process.kill(process.pid, 'SIGKILL')
  }
}
