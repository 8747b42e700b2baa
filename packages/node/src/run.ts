import { type Address, type Hex, type PrivateKey, toHex } from '@allot/protocol'
import {
  BatchPipeline,
  contractChainView,
  contractSettler,
  type BatchPipeline as Pipeline,
} from './batch/index.js'
import { domainOf } from './config/index.js'
import { ConsensusSchedule, ConsensusService, proposerOf } from './consensus/index.js'
import { type AllotNode, createNode, type NodeOptions } from './node.js'
import { BatchSubmitter, ChainBalanceReader, type ChainClients, connectChain } from './settlement/index.js'

export interface RunNodeOptions extends NodeOptions {
  /** Blocks below the chain head that count as final (chainRef). Default 0 (devnets: anvil mines on demand). */
  confirmations?: number
  /** How long a validator that did not propose a batch waits before settling it itself. */
  settleTakeoverMs?: number
}

/** A running node with everything a validator needs: chain reader, consensus, the batch pipeline, settlement. */
export interface RunningNode {
  node: AllotNode
  consensus?: ConsensusService
  pipeline?: Pipeline
  chain?: ChainClients
  /** The height consensus works on, the last certified and the last settled batch. */
  progress(): { height: bigint; finalized: bigint; settled: bigint }
  stop(): Promise<void>
}

/**
 * Assembles and starts a node (STYLE.md: services assembled in one place). With an RPC URL the node reads
 * bonds and balances from the settlement contract; with a validator key it also runs consensus, clears
 * decided batches, attests, and settles certified ones.
 */
export async function runNode(o: RunNodeOptions): Promise<RunningNode> {
  const g = o.genesis
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
  await node.start()

  let consensus: ConsensusService | undefined
  let pipeline: BatchPipeline | undefined
  let chainRef = 0n
  let chainRefTimer: NodeJS.Timeout | undefined
  if (o.validatorKey) {
    const key: PrivateKey = o.validatorKey
    if (reader) {
      chainRef = await reader.chainRef()
      chainRefTimer = setInterval(
        () => {
          reader
            ?.chainRef()
            .then((r) => {
              if (r > chainRef) chainRef = r
            })
            .catch(() => {})
        },
        Math.max(200, g.batchIntervalMs / 2),
      )
      chainRefTimer.unref()
    }
    const validators = g.validators.map((v) => v.address.toLowerCase() as Address).sort()
    let svc: ConsensusService | undefined
    pipeline = new BatchPipeline({
      genesis: g,
      domain: domainOf(g),
      storage: node.storage,
      mempool: node.mempool,
      chain:
        reader && chain
          ? contractChainView(reader, chain, g.settlement)
          : { available: async () => 0n, settledHeightAt: async () => 0n },
      attest: (h, r) => svc!.attest(h, r),
      settler:
        chain && reader
          ? contractSettler(
              new BatchSubmitter({
                clients: chain,
                settlement: g.settlement,
                takeoverMs: o.settleTakeoverMs ?? Math.max(2000, 3 * g.batchIntervalMs),
              }),
              chain,
              g.settlement,
            )
          : undefined,
      logger: node.logger.child({ service: 'batch' }),
      onSettled: (h) => node.setSettledHeight(h),
    })
    await pipeline.start()
    const p = pipeline
    svc = consensus = new ConsensusService(node, {
      validatorKey: key,
      chainRef: () => chainRef,
      onDecided: (d) => void p.decided(d.content, proposerOf(validators, d.height, d.round)).catch(() => {}),
      onCertified: (cert) => void p.certified(cert).catch(() => {}),
    })
    await consensus.start()
    const c = consensus
    node.setHeightSource(() => c.height)
    if (schedule instanceof ConsensusSchedule) {
      schedule.bind(() => ({ height: c.height, parentTimestamp: Number(c.driver.state.parent.timestamp) }))
    }
  }

  return {
    node,
    consensus,
    pipeline,
    chain,
    progress: () => ({
      height: consensus?.height ?? node.schedule.currentHeight(),
      finalized: pipeline?.lastCertified ?? 0n,
      settled: pipeline?.lastSettled ?? 0n,
    }),
    async stop() {
      clearInterval(chainRefTimer)
      await consensus?.stop()
      pipeline?.stop()
      await node.stop()
    },
  }
}
