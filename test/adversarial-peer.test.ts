// Issue 24, "an adversarial peer harness on real libp2p nodes": four honest validators on loopback (runNode:
// consensus, the batch pipeline, sealing and the DKG of the next epoch; bonds and balances through the real
// chain reader over a counting RPC stand-in) and hostile peers that, for a few seconds, publish junk on every
// gossip topic and answer the validators' sync requests with lies. One hostile peer per kind of junk, so
// each one's score says what that junk costs its sender. Checked: heights keep being decided and certified,
// senders of rejected junk are graylisted, no junk is forwarded, and the work junk buys — chain reads,
// signature checks, sync round trips, heap — is bounded.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import {
  API_PROTOCOL,
  addressOf,
  type BatchContent,
  type BatchProposal,
  dealEpoch,
  decode,
  deterministicRng,
  encode,
  encodeSealedOrder,
  type Hex,
  keyShareCodec,
  type Order,
  orderGossipCodec,
  type PrivateKey,
  privateKeyFromHex,
  protocolOf,
  type SealedOrder,
  SYNC_PROTOCOL,
  sealOrder,
  signOrder,
  syncRequestCodec,
  syncResponseCodec,
  toHex,
  type Vote,
} from '@allot/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  attestationCodec,
  consensusSyncRequestCodec,
  encodeConsensusMessage,
  encodeSyncResponse,
  keySigner,
  proposerOf,
} from '../packages/node/src/consensus/index.js'
import {
  type AllotNode,
  createNodeMetrics,
  createRegistry,
  domainOf,
  type NodeMetrics,
} from '../packages/node/src/index.js'
import { topicOf } from '../packages/node/src/network/index.js'
import { type RunningNode, runNode } from '../packages/node/src/run.js'
import { type DkgBroadcast, signBroadcast } from '../packages/node/src/sealing/index.js'
import { ChainBalanceReader, type ChainClients } from '../packages/node/src/settlement/index.js'
import { TKA, TKB, validatorGenesis, waitFor } from './node-fixtures.js'
import { HostilePeer, hexId, lyingPrefix } from './support/hostile-peer.js'

const keys: PrivateKey[] = [1, 2, 3, 4].map((i) => new Uint8Array(32).fill(0x50 + i))
/** The dealt first epoch is 1..16; the DKG of 17..28 runs its four windows of 3 heights over 5..16. */
const FIRST_END = 16n
const START = FIRST_END + 1n
const sealing = { enabled: true, epochLength: 12, dkgPhaseHeights: 3, dkgLeadHeights: 12 }
const g = validatorGenesis('adversarial-peer', keys, sealing)
const CONSENSUS_SYNC = protocolOf('consensus-sync', g.networkId)
const domain = domainOf(g)
const validators = keys.map((k) => addressOf(k).toLowerCase() as Hex).sort()
const T = {
  orders: topicOf(g.networkId, 'orders'),
  consensus: topicOf(g.networkId, 'consensus'),
  unseal: topicOf(g.networkId, 'unseal'),
  results: topicOf(g.networkId, 'results'),
  dkg: topicOf(g.networkId, 'dkg'),
}
/** gossipsub's graylist threshold in network/host.ts: below it a peer's RPCs are dropped unread. */
const GRAYLIST = -100
const ATTACK_MS = 5_000

/** A full collection before each heap reading, so that the two compare what is retained. */
v8.setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const rng = deterministicRng('adversarial-peer')
const junk = (n: number) => rng(n)
const stranger = keySigner(domain, new Uint8Array(32).fill(0x7f))
/** Seeded trader keys: the honest one is bonded; the others never deposited anything. */
const traderKey = (i: number) => privateKeyFromHex(`0x${(0xa000 + i).toString(16).padStart(64, '0')}`)
const HONEST_TRADER = addressOf(traderKey(0)).toLowerCase()

/**
 * The chain as the honest nodes' ChainBalanceReader sees it: a stand-in for viem's public client that counts
 * every RPC call (a head read, or a contract read naming its trader). Only the honest trader holds a bond.
 */
class CountingChain {
  heads = 0
  readonly reads = new Map<string, number>()
  get totalReads(): number {
    return [...this.reads.values()].reduce((a, b) => a + b, 0)
  }
  readonly clients = {
    publicClient: {
      getBlockNumber: async () => {
        this.heads++
        return 100n
      },
      readContract: async (a: { functionName: string; args: readonly unknown[] }) => {
        const trader = String(a.args[0]).toLowerCase()
        this.reads.set(trader, (this.reads.get(trader) ?? 0) + 1)
        if (a.functionName === 'pendingWithdrawal') return [0n, 0n] as const
        return trader === HONEST_TRADER ? 10n ** 24n : 0n
      },
    },
  } as unknown as ChainClients
}

function order(key: PrivateKey, batch: bigint, nonce: bigint): Order {
  const id = (a: string) => `0x${'0'.repeat(24)}${a.slice(2)}` as Hex
  return {
    trader: addressOf(key),
    sellAsset: id(TKA),
    buyAsset: id(TKB),
    sellAmount: 1000n,
    buyAmount: 900n,
    kind: 'sell',
    partiallyFillable: false,
    firstBatch: batch,
    lastBatch: batch,
    nonce,
    app: `0x${'0'.repeat(64)}`,
  }
}

/** A validly signed order of `key` for `batch`, sealed to the batch key. */
function sealed(key: PrivateKey, batch: bigint, nonce: bigint, batchKey: Uint8Array): SealedOrder {
  const o = order(key, batch, nonce)
  return sealOrder({
    domain,
    signedOrder: { order: o, signature: signOrder(domain, o, key) },
    batchPublicKey: batchKey,
    traderKey: key,
    nonce,
    rng,
  })
}

/** A vote in `validator`'s name signed by a stranger (or unsigned: all-zero signature). */
function forgedVote(
  height: bigint,
  round: number,
  validator: Hex,
  type: Vote['type'],
  unsigned = false,
): Vote {
  const u = { type, height, round, valueHash: toHex(junk(32)) as Hex, validator }
  const signature = unsigned
    ? { r: `0x${'00'.repeat(32)}` as Hex, s: `0x${'00'.repeat(32)}` as Hex, v: 27 }
    : stranger.signVote(u)
  return { ...u, signature }
}

/** A proposal in the name of the round's proposer, signed by a stranger. */
function forgedProposal(height: bigint, round: number): BatchProposal {
  const content: BatchContent = {
    height,
    parentHash: toHex(junk(32)) as Hex,
    timestamp: BigInt(Date.now()),
    chainRef: 0n,
    orderIds: [],
  }
  const u = { height, round, content, validRound: -1, proposer: proposerOf(validators, height, round) }
  return { ...u, signature: stranger.signProposal(u) }
}

describe('an adversarial peer against four validators on libp2p', () => {
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  const chains: CountingChain[] = []
  const metrics: NodeMetrics[] = []
  const hostile: Record<string, HostilePeer> = {}
  /** Junk message ids an honest node received from another honest node (a forward). */
  const forwarded = new Map<string, string>()
  const honestPeers = new Set<string>()
  const heights = () => nodes.map((n) => String(n.consensus?.height)).join(',')
  const v = (i: number) => nodes[i].node

  /** What the attack window measured. */
  const m = {
    heightAtStart: [] as bigint[],
    heightAtEnd: [] as bigint[],
    heapBefore: 0,
    heapAfter: 0,
    badSigsBefore: [] as number[],
    badSigsAfter: [] as number[],
    sent: new Map<string, number>(),
    readsBefore: [] as number[],
    headsBefore: [] as number[],
    attackMs: 0,
    unbondedTraders: new Set<string>(),
    /** Per honest node: signature checks and wall time one hostile consensus-sync answer cost it. */
    syncAnswer: [] as { badSigs: number; ms: number }[],
    flood: [] as ('answered' | 'closed' | 'refused' | 'hanging')[],
    /** Orders of the honest trader accepted during the attack. */
    honestOrders: [] as Hex[],
    /** Lowest score each hostile peer reached on each validator during the attack. */
    minScore: new Map<string, number[]>(),
  }
  /** Rejected messages counted on `topic` at validator i (every one from its hostile sender). */
  const rejectsOn = async (i: number, topic: string) => {
    let n = 0
    for (const x of (await metrics[i].network.gossip.get()).values)
      if (x.labels.verdict === 'reject' && x.labels.topic === topic) n += x.value
    return n
  }
  /** The rejected-junk senders and their topics. */
  const REJECTED = {
    orders: T.orders,
    consensus: T.consensus,
    unseal: T.unseal,
    results: T.results,
    dkg: T.dkg,
  }
  /**
   * Per rejected-junk sender and validator: its rejects and messages sent 2 s after its score first fell
   * below the graylist threshold (gossipsub caches a score up to a heartbeat and lets a peer whose cached
   * score is ≥ 0 through for a second), and when that was.
   */
  const cut = new Map<string, ({ at: number; rejects: number; sent: number } | undefined)[]>()
  const graylistedAt = new Map<string, (number | undefined)[]>()
  const takeCuts = async () => {
    for (const [name, topic] of Object.entries(REJECTED)) {
      const at = graylistedAt.get(name) ?? [undefined, undefined, undefined, undefined]
      const c = cut.get(name) ?? [undefined, undefined, undefined, undefined]
      for (let i = 0; i < 4; i++) {
        if (at[i] === undefined && v(i).host.services.pubsub.getScore(hostile[name].peerId) < GRAYLIST)
          at[i] = Date.now()
        if (c[i] === undefined && at[i] !== undefined && Date.now() - (at[i] as number) >= 2_000)
          c[i] = { at: Date.now(), rejects: await rejectsOn(i, topic), sent: m.sent.get(name) ?? 0 }
      }
      graylistedAt.set(name, at)
      cut.set(name, c)
    }
  }
  const sampleScores = () => {
    for (const h of Object.values(hostile)) {
      const now = nodes.map((n) => n.node.host.services.pubsub.getScore(h.peerId))
      const low = m.minScore.get(h.name) ?? now
      m.minScore.set(
        h.name,
        now.map((x, i) => Math.min(x, low[i])),
      )
    }
  }

  beforeAll(async () => {
    const dealt = dealEpoch({
      startHeight: 1n,
      length: Number(FIRST_END),
      n: 4,
      t: 1,
      rng: deterministicRng('adversarial-peer-epoch'),
    })
    for (const k of keys) {
      const dir = mkdtempSync(join(tmpdir(), 'allot-adv-'))
      dirs.push(dir)
      const chain = new CountingChain()
      chains.push(chain)
      const reader = new ChainBalanceReader({
        clients: chain.clients,
        settlement: g.settlement,
        confirmations: 0,
        bondToken: TKA,
        minBond: g.bond.minBond,
        tokens: [TKA, TKB],
      })
      const nm = createNodeMetrics(createRegistry(false))
      metrics.push(nm)
      nodes.push(
        await runNode({
          genesis: g,
          dataDir: dir,
          validatorKey: k,
          verifier: { threads: 1 },
          sealingEpoch: {
            public: dealt.public,
            shares: dealt.shares[validators.indexOf(addressOf(k).toLowerCase() as Hex)],
          },
          unsealDeadlineMs: 10_000,
          bonds: reader,
          balances: reader,
          chainView: { available: async () => 10n ** 24n, settledHeightAt: async () => 0n },
          metrics: nm,
        }),
      )
    }
    for (const n of nodes) honestPeers.add(n.node.peerId)
    const dials: Promise<unknown>[] = []
    for (let i = 0; i < 4; i++)
      for (let j = i + 1; j < 4; j++) dials.push(v(i).host.dial(v(j).host.getMultiaddrs()[0]))
    await Promise.all(dials)
    for (const n of nodes) {
      n.node.host.services.pubsub.addEventListener('gossipsub:message', (ev) => {
        const d = (ev as CustomEvent).detail as {
          msg: { topic: string; data: Uint8Array }
          propagationSource: { toString(): string }
        }
        const id = hexId(d.msg.data)
        for (const h of Object.values(hostile))
          if (h.published.get(d.msg.topic)?.has(id) && honestPeers.has(d.propagationSource.toString()))
            forwarded.set(id, `${h.name} on ${d.msg.topic} via ${d.propagationSource}`)
      })
    }
    for (const name of ['orders', 'consensus', 'unseal', 'results', 'dkg', 'future', 'unbonded', 'sync'])
      hostile[name] = await HostilePeer.start(name, Object.values(T))
    await installSyncLies(hostile.sync)
    for (const name of Object.keys(hostile))
      if (name !== 'sync') await hostile[name].dial(nodes.map((n) => n.node))
    await waitFor(
      () =>
        nodes.every((n) =>
          Object.values(hostile)
            .filter((h) => h.name !== 'sync')
            .every((h) =>
              Object.values(T).every((t) =>
                n.node.gossip.pubsub.getSubscribers(t).some((p) => p.toString() === h.peerId),
              ),
            ),
        ),
      15_000,
      'every hostile peer on every topic of every validator',
    )
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled(Object.values(hostile).map((h) => h.stop()))
    await Promise.allSettled(nodes.map((n) => n.stop()))
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  /** The sync liar: an endless order inventory, answers of unasked orders or 9 MiB, thousands of forged precommits. */
  async function installSyncLies(h: HostilePeer): Promise<void> {
    const pool: Hex[] = []
    await h.answer(SYNC_PROTOCOL, (req) => {
      const r = decode(syncRequestCodec, req)
      if (r.kind === 'orderIds') {
        const ids = Array.from({ length: 1024 }, () => toHex(junk(32)) as Hex).sort()
        return encode(syncResponseCodec, { kind: 'orderIds', ids, more: 1 })
      }
      if (r.kind === 'ordersById') {
        // Orders nobody asked for (the ids it listed are never delivered).
        if (pool.length === 0) for (let i = 0; i < 32; i++) pool.push(toHex(junk(480)) as Hex)
        return encode(
          syncResponseCodec,
          { kind: 'orders', orders: Array.from({ length: 1024 }, (_, i) => pool[i % pool.length]) },
          9 * 1024 * 1024,
        )
      }
      return encode(syncResponseCodec, { kind: 'batches', batches: [] })
    })
    const answers = new Map<bigint, Uint8Array>()
    await h.answer(CONSENSUS_SYNC, (req, peer) => {
      const { height } = decode(consensusSyncRequestCodec, req)
      // Validators 1 and 3 get an answer over the 8 MiB limit; 0 and 2 thousands of forged votes.
      if (nodes.findIndex((n) => n.node.peerId === peer) % 2 === 1) return new Uint8Array(9 * 1024 * 1024)
      let a = answers.get(height)
      if (!a) {
        // One forged signature serves them all: each vote still names a validator, so each is checked.
        // Heights h and h + 1: the asker may decide h while the answer is on its way.
        const sig = stranger.signVote({
          type: 'precommit',
          height,
          round: 0,
          valueHash: null,
          validator: validators[0],
        })
        const vote = (i: number, type: Vote['type']): Vote => ({
          type,
          height: height + BigInt(i % 2),
          round: i,
          valueHash: `0x${i.toString(16).padStart(64, '0')}` as Hex,
          validator: validators[i % 4],
          signature: sig,
        })
        const content = (k: number): BatchContent => ({
          height: height + BigInt(k % 2),
          parentHash: `0x${k.toString(16).padStart(64, '0')}` as Hex,
          timestamp: BigInt(Date.now()),
          chainRef: 0n,
          orderIds: [],
        })
        a = encodeSyncResponse(
          {
            commits: Array.from({ length: 16 }, (_, k) => ({
              content: content(k),
              round: 0,
              precommits: Array.from({ length: 256 }, (_, i) => vote(i, 'precommit')),
            })),
            messages: Array.from({ length: 4096 }, (_, i) => ({
              type: 'vote' as const,
              vote: vote(i, 'prevote'),
            })),
          },
          8 * 1024 * 1024,
        )
        answers.set(height, a)
      }
      return a
    })
  }

  it('decides and certifies heights while hostile peers flood every topic and answer sync with lies', {
    timeout: 90_000,
  }, async () => {
    await waitFor(
      () => nodes.every((n) => (n.consensus?.height ?? 0n) >= 3n),
      30_000,
      `height 3: ${heights()}`,
    )
    m.heightAtStart = nodes.map((n) => n.consensus!.height)
    gc()
    m.heapBefore = process.memoryUsage().heapUsed
    m.badSigsBefore = nodes.map((n) => n.consensus!.driver.stats.badSignatures)
    m.readsBefore = chains.map((c) => c.totalReads)
    m.headsBefore = chains.map((c) => c.heads)
    const firstKey = (await nodes[0].sealing!.batchKey(1n)) as Uint8Array
    const send = async (h: HostilePeer, topic: string, data: Uint8Array) => {
      m.sent.set(h.name, (m.sent.get(h.name) ?? 0) + 1)
      await h.publish(topic, data)
    }
    const t0 = Date.now()
    // The sync liar connects now: every validator pages through its inventory (catch-up on connect).
    await hostile.sync.dial(nodes.map((n) => n.node))
    let tick = 0
    let fresh = 1000
    while (Date.now() - t0 < ATTACK_MS) {
      tick++
      const h = nodes[0].consensus!.height
      const next = h + 1n
      const open = v(0).schedule.openBatch()
      const key = (await nodes[0].sealing!.batchKey(open)) ?? firstKey
      // orders: undecodable, truncated, a forged signature (the trader it names did not sign), oversized.
      const forged = {
        ...sealed(traderKey(fresh++), open, BigInt(tick), key),
        trader: addressOf(traderKey(fresh++)),
      }
      const ordersJunk = [
        Uint8Array.of(7, ...junk(40)),
        Uint8Array.of(0, 1, 2, 3),
        Uint8Array.of(0, ...encodeSealedOrder(forged)),
        new Uint8Array(600_000),
      ]
      await send(hostile.orders, T.orders, ordersJunk[tick % ordersJunk.length])
      // consensus: forged and unsigned votes at the current and the next height, a forged proposal, bytes.
      const c = hostile.consensus
      const who = validators[tick % 4]
      const consensusJunk = [
        encodeConsensusMessage({ type: 'vote', vote: forgedVote(h, tick, who, 'prevote') }),
        encodeConsensusMessage({ type: 'vote', vote: forgedVote(next, tick, who, 'precommit') }),
        encodeConsensusMessage({ type: 'vote', vote: forgedVote(next, tick, who, 'prevote', true) }),
        encodeConsensusMessage({ type: 'proposal', proposal: forgedProposal(h, tick) }),
        Uint8Array.of(1, ...junk(64)),
      ]
      await send(c, T.consensus, consensusJunk[tick % consensusJunk.length])
      // unseal: a share in a validator's name with a stranger's signature (for a height whose released
      // shares every validator holds by now), and bytes.
      const share = {
        height: h > 2n ? h - 2n : 1n,
        index: 1 + (tick % 4),
        share: toHex(junk(32)) as Hex,
        validator: validators[tick % 4],
        signature: stranger.signResult({ height: h, resultHash: toHex(junk(32)) as Hex }),
      }
      await send(hostile.unseal, T.unseal, tick % 2 ? encode(keyShareCodec, share) : junk(80))
      // results: attestations of a stranger and forged in a validator's name, at the current height, and bytes.
      const res = { height: h, resultHash: toHex(junk(32)) as Hex }
      const resultsJunk = [
        encode(attestationCodec, {
          result: res,
          validator: stranger.address,
          signature: stranger.signResult(res),
        }),
        encode(attestationCodec, { result: res, validator: who, signature: stranger.signResult(res) }),
        junk(90),
      ]
      await send(hostile.results, T.results, resultsJunk[tick % resultsJunk.length])
      // dkg: complaints in each validator's name, signed by a stranger, for the session running now; bytes.
      const complaint: DkgBroadcast = {
        type: 'complaint',
        from: 1 + (tick % 4),
        against: 1 + ((tick + 1) % 4),
      }
      await send(
        hostile.dkg,
        T.dkg,
        tick % 2
          ? signBroadcast(
              domain,
              { startHeight: START, attempt: 0 },
              complaint,
              new Uint8Array(32).fill(0x7f),
            )
          : junk(70),
      )
      // far-future attestations: a validator's name, a stranger's signature, a billion heights ahead.
      const far = { height: h + 1_000_000_000n + BigInt(tick), resultHash: toHex(junk(32)) as Hex }
      await send(
        hostile.future,
        T.results,
        encode(attestationCodec, { result: far, validator: who, signature: stranger.signResult(far) }),
      )
      // bundles of validly signed orders of traders without a bond: every other bundle the same 16
      // traders, the others 16 never seen before.
      if (tick % 5 === 0) {
        const base = (tick / 5) % 2 === 0 ? 1 : 100 + tick * 16
        const orders = Array.from({ length: 16 }, (_, i) =>
          encodeSealedOrder(sealed(traderKey(base + i), open, BigInt(tick), key)),
        )
        for (let i = 0; i < 16; i++) m.unbondedTraders.add(addressOf(traderKey(base + i)).toLowerCase())
        await send(hostile.unbonded, T.orders, encode(orderGossipCodec, { kind: 'bundle', orders }))
      }
      // And a burst of cheap junk from each rejected-junk sender: volume is what graylisting must cut.
      for (const [name, topic] of [
        ['orders', T.orders],
        ['consensus', T.consensus],
        ['unseal', T.unseal],
        ['results', T.results],
        ['dkg', T.dkg],
      ] as const)
        for (let k = 0; k < 4; k++) await send(hostile[name], topic, Uint8Array.of(9, ...junk(24)))
      // An honest trader's order through a validator's intake, gossiped as usual. It names the batch after
      // the open one: an order taken in the last moments before its batch's cut-off may reach the proposer
      // too late on a loaded machine (docs/node.md "Known limits"), which is not what this test is about.
      if (tick % 4 === 0) {
        const at = v((tick / 4) % 4)
        const target = open + 1n
        const bytes = encodeSealedOrder(
          sealed(traderKey(0), target, BigInt(tick), (await nodes[0].sealing!.batchKey(target)) ?? key),
        )
        const ok = await at.intake.submit(bytes, true).catch(() => undefined)
        if (ok) {
          at.publishOrder(bytes)
          m.honestOrders.push(ok.orderId)
        }
      }
      sampleScores()
      await takeCuts()
      await new Promise((r) => setTimeout(r, 25))
    }
    m.badSigsAfter = nodes.map((n) => n.consensus!.driver.stats.badSignatures)
    // Make each validator ask the liar for consensus messages (it asks a random peer when its height stalls).
    for (let i = 0; i < 4; i++) {
      const svc = nodes[i].consensus!
      for (let k = 0; k < 200; k++) {
        const before = hostile.sync.servedTo(CONSENSUS_SYNC, v(i).peerId)
        const bad = svc.driver.stats.badSignatures
        const started = Date.now()
        await svc.syncOnce(svc.height)
        if (hostile.sync.servedTo(CONSENSUS_SYNC, v(i).peerId) > before) {
          m.syncAnswer.push({ badSigs: svc.driver.stats.badSignatures - bad, ms: Date.now() - started })
          break
        }
      }
    }
    // Many streams at once on the request protocols, each announcing a gigabyte (from a host that serves
    // none of them: serving a protocol caps its own outbound streams on it at 4, handleProtocol).
    m.flood = [
      ...(await hostile.future.flood(v(0), SYNC_PROTOCOL, 48, lyingPrefix(2 ** 30))),
      ...(await hostile.future.flood(v(0), API_PROTOCOL, 48, lyingPrefix(2 ** 30))),
      ...(await hostile.future.flood(v(0), CONSENSUS_SYNC, 48, lyingPrefix(2 ** 30))),
    ]
    m.attackMs = Date.now() - t0
    m.heightAtEnd = nodes.map((n) => n.consensus!.height)
    gc()
    m.heapAfter = process.memoryUsage().heapUsed
    console.log('attack', {
      ms: m.attackMs,
      heights: `${m.heightAtStart.join(',')} -> ${m.heightAtEnd.join(',')}`,
      sent: Object.fromEntries(m.sent),
      syncAnswer: m.syncAnswer,
      heapDeltaMiB: ((m.heapAfter - m.heapBefore) / 2 ** 20).toFixed(1),
    })
    // Decided during the attack at every validator, and certified (each height a quorum of results).
    for (let i = 0; i < 4; i++) expect(m.heightAtEnd[i] - m.heightAtStart[i]).toBeGreaterThanOrEqual(4n)
    // biome-ignore lint/complexity/useMathMinMax: bigints (Math.min takes numbers)
    const upTo = m.heightAtEnd.reduce((a, b) => (a < b ? a : b)) + 2n
    await waitFor(
      () => nodes.every((n) => n.consensus!.height > upTo),
      30_000,
      `height ${upTo}: ${heights()}`,
    )
    const certified = async (n: AllotNode) => {
      for (let h = 1n; h <= upTo; h++) if (!(await n.storage.certificates.get(h))) return false
      return true
    }
    await waitFor(
      async () => (await Promise.all(nodes.map((n) => certified(n.node)))).every(Boolean),
      30_000,
      `certificates for heights 1..${upTo} at every validator`,
    )
    // The honest trader's orders went into decided batches, at every validator.
    expect(m.honestOrders.length).toBeGreaterThanOrEqual(2)
    const decidedIds = async (n: AllotNode) => {
      const ids = new Set<string>()
      for await (const [, c] of n.storage.batches.entries()) for (const id of c.orderIds) ids.add(id)
      return ids
    }
    await waitFor(
      async () =>
        (await Promise.all(nodes.map((n) => decidedIds(n.node)))).every((ids) =>
          m.honestOrders.every((id) => ids.has(id)),
        ),
      20_000,
      `the honest orders in decided batches`,
    ).catch(async (e) => {
      const sets = await Promise.all(nodes.map((n) => decidedIds(n.node)))
      console.log(
        m.honestOrders.map((id) => [
          id.slice(0, 10),
          sets.map((x) => x.has(id)),
          nodes.map((n) => n.node.mempool.finalStatus(id) ?? n.node.mempool.get(id)?.batch),
        ]),
      )
      throw e
    })
  })

  const lowest = () =>
    Object.fromEntries([...m.minScore].map(([name, s]) => [name, s.map((x) => Math.round(x))]))

  it('graylists the sender of rejected orders, consensus, unseal and results junk', async () => {
    const scores = lowest()
    console.log('lowest scores during the attack', scores)
    const verdicts = (await metrics[0].network.gossip.get()).values.map(
      (x) => `${x.labels.topic} ${x.labels.verdict} ${x.labels.code}: ${x.value}`,
    )
    console.log('validator 0 gossip verdicts', verdicts)
    for (const name of ['orders', 'consensus', 'unseal', 'results'])
      for (const s of scores[name]) expect(s, `${name}: ${scores[name]}`).toBeLessThan(GRAYLIST)
  })

  // The DKG topic was not among the topics the host scores (only allTopics: orders, consensus, unseal,
  // results), so a rejected DKG message cost its sender nothing, and each cost a noble recovery.
  it('graylists the sender of rejected DKG junk', () => {
    for (const s of lowest().dkg) expect(s).toBeLessThan(GRAYLIST)
  })

  it('costs nothing for far-future attestations and unbonded orders: ignored, not rejected', () => {
    const scores = lowest()
    for (const name of ['future', 'unbonded'])
      for (const s of scores[name]) expect(s, `${name}: ${scores[name]}`).toBeGreaterThan(GRAYLIST)
  })

  // A forged key share naming a (height, index) a validator already held used to be accepted unchecked
  // (SealingService.onShare) and so forwarded to every peer.
  it('forwards none of the junk to the other validators', () => {
    expect([...forwarded.values()]).toEqual([])
  })

  it('spends chain reads only on validly signed strangers, once each, never per message', async () => {
    for (let i = 0; i < 4; i++) {
      const c = chains[i]
      // Every trader read is the honest one or a bond-less stranger that signed its orders: forged
      // orders (a trader who did not sign), bytes and consensus junk buy none.
      for (const t of c.reads.keys()) expect(t === HONEST_TRADER || m.unbondedTraders.has(t), t).toBe(true)
      // Two calls (escrow, pending withdrawal) per stranger at one chainRef: the repeats of the same
      // 16 strangers in later bundles cost nothing more.
      for (const [t, n] of c.reads) if (t !== HONEST_TRADER) expect(n, t).toBeLessThanOrEqual(2)
      // The head is read at most once per 250 ms (the reader's head cache), whatever arrives.
      expect(c.heads - m.headsBefore[i]).toBeLessThanOrEqual(Math.ceil(m.attackMs / 250) + 8)
    }
    console.log(
      'chain reads',
      chains.map((c, i) => ({ calls: c.totalReads - m.readsBefore[i], heads: c.heads - m.headsBefore[i] })),
      'strangers',
      m.unbondedTraders.size,
    )
  })

  it.fails('a stranger that signs with fresh keys buys no chain read (it buys two per trader)', () => {
    for (let i = 0; i < 4; i++) expect(chains[i].totalReads - m.readsBefore[i]).toBeLessThanOrEqual(8)
  })

  it('validates none of a graylisted sender’s junk: its RPCs are dropped unread', async () => {
    const report: Record<string, string[]> = {}
    for (const [name, topic] of Object.entries(REJECTED)) {
      report[name] = []
      for (let i = 0; i < 4; i++) {
        const c = cut.get(name)?.[i]
        // Graylisted early enough in the window to leave a stretch of sending after the cut.
        expect(c, `${name} at validator ${i}`).toBeDefined()
        const later = (await rejectsOn(i, topic)) - (c?.rejects ?? 0)
        const sentAfter = (m.sent.get(name) ?? 0) - (c?.sent ?? 0)
        report[name].push(`${c?.rejects}+${later} of ${m.sent.get(name)} (${sentAfter} after the cut)`)
        expect(sentAfter).toBeGreaterThanOrEqual(10)
        expect(later, `${name} at validator ${i}`).toBeLessThanOrEqual(2)
      }
    }
    console.log('rejects validated before + after the cut', report)
  })

  it('bounds the signature checks gossip junk buys: until its sender is graylisted', () => {
    for (let i = 0; i < 4; i++) expect(m.badSigsAfter[i] - m.badSigsBefore[i]).toBeLessThan(200)
  })

  // ConsensusService.syncOnce fed every message of an answer to the driver, and driver.commit checked every
  // precommit: one answer of forged votes cost a recovery each (6,144 here, 1–2 s of the event loop).
  it('bounds the signature checks a lying consensus-sync answer buys', () => {
    expect(m.syncAnswer.length).toBe(4)
    // One answer of 8,192 forged votes: at most one failed check per validator, not one per vote.
    for (const a of m.syncAnswer) expect(a.badSigs).toBeLessThanOrEqual(2 * validators.length)
  })

  // catchUpOrders paged for as long as the peer said `more`, whether or not it delivered what it listed:
  // an endless inventory kept every validator paging (and hashing unasked answers) for good — 45–48
  // requests each in one run, and counting. It now stops at the first page the peer does not deliver.
  it('pages through a lying inventory a bounded number of times', () => {
    console.log(
      'sync requests served to each validator',
      nodes.map((n) => hostile.sync.servedTo(SYNC_PROTOCOL, n.node.peerId)),
    )
    for (let i = 0; i < 4; i++)
      expect(hostile.sync.servedTo(SYNC_PROTOCOL, v(i).peerId)).toBeLessThanOrEqual(4)
  })

  it('refuses floods of streams and lying frames without hanging', () => {
    expect(m.flood.length).toBe(144)
    expect(m.flood.filter((f) => f === 'hanging')).toEqual([])
    expect(m.flood.filter((f) => f === 'answered').length).toBeGreaterThan(0)
    const tally = (part: typeof m.flood) =>
      Object.fromEntries(
        ['answered', 'closed', 'refused'].map((k) => [k, part.filter((f) => f === k).length]),
      )
    console.log(
      'flood (sync, api, consensus-sync)',
      [0, 48, 96].map((at) => tally(m.flood.slice(at, at + 48))),
    )
  })

  it('keeps the heap bounded', () => {
    expect(m.heapAfter - m.heapBefore).toBeLessThan(48 * 2 ** 20)
  })

  it('still runs the DKG of the next epoch to the same result at every validator', async () => {
    await waitFor(
      () => nodes.every((n) => n.dkg!.outcomes.some((o) => o.startHeight === START)),
      30_000,
      `the DKG of ${START}: ${heights()}`,
    )
    const outcomes = nodes.map((n) => n.dkg!.outcomes.find((o) => o.startHeight === START)!)
    for (const o of outcomes) expect(o.ok, o.ok ? '' : o.error).toBe(true)
    const quals = outcomes.map((o) => (o.ok ? o.qual : []))
    for (const q of quals) expect(q).toEqual(quals[0])
  })
})
