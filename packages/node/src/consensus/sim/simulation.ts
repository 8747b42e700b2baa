import {
  type Address,
  type BatchContent,
  type BatchProposal,
  type Hex,
  keccak256Hex,
  type NetworkDomain,
  type PrivateKey,
  type Signature,
  type Vote,
} from '@allot/protocol'
import { ConsensusDriver, type DriverOutput } from '../driver.js'
import { type ConsensusVerifier, keySigner, keyVerifier } from '../signatures.js'
import {
  type ConsensusConfig,
  type ConsensusMessage,
  type ConsensusParams,
  type ConsensusSigner,
  contentHash,
  type Decision,
  faultsTolerated,
  initialState,
  type ParentRef,
  proposerOf,
  restoreState,
  type SignedRecord,
  type UnsignedProposal,
  type UnsignedVote,
} from '../tendermint.js'
import { buildBatchContent, inclusionCutoff, type ValidationParams, validateProposal } from '../validate.js'
import { type IntakeView, SIM_INTAKE, SimMempool, type SimOrder } from './intake.js'
import { Prng } from './prng.js'
import { EventQueue } from './queue.js'
import { BondBook, scheduleHostileTraders, TRADER_BEHAVIOURS, type TraderBehaviour } from './traders.js'

/**
 * A deterministic simulation of a validator set (FoundationDB / TigerBeetle style): every validator runs the
 * real state machine and driver in one process, over a simulated network and clock driven by one seed —
 * random delays, reordering, drops, duplicates, partitions that heal, crash-restarts from the persisted
 * write-ahead records, and up to f Byzantine validators. After the chaos phase the network heals and every
 * crashed validator comes back; the run then checks termination.
 *
 * Orders go through each validator's intake rules (sim/intake.ts: cut-off, one envelope per trader and
 * nonce, the per-trader cap, the bond as that validator's chain view shows it), and hostile traders
 * (sim/traders.ts: equivocating, splitting, late, flooding, bond-flipping) play them against the validators.
 *
 * Invariants: agreement, validity, no honest double-sign, inclusion, termination after heal, and a bound on
 * the time between decided heights after the heal.
 * Models, stated plainly: order fetching over sync is instant (an unknown id in a proposal is looked up in
 * the run's order registry, then taken through the validator's intake as `referenced`); signatures are cheap tags unless `realKeys`; Byzantine validators cannot forge
 * others' signatures (the transport is authenticated by construction); honest clocks agree.
 */

export type Behaviour = 'silent' | 'equivocate' | 'invalid' | 'censor'
export const BEHAVIOURS: readonly Behaviour[] = ['silent', 'equivocate', 'invalid', 'censor']

export interface SimOptions {
  seed: number
  /** Validator count (default: 4, 5 or 7 from the seed). */
  validators?: number
  /** Byzantine validators by index with their behaviour (default: 0..f random ones from the seed). */
  byzantine?: { index: number; behaviour: Behaviour }[]
  chaosMs?: number
  healMs?: number
  dropRate?: number
  duplicateRate?: number
  /** Whether partitions and crash-restarts happen during the chaos phase. */
  partitions?: boolean
  crashes?: boolean
  /** Scheduled crash-restarts of given validators (e.g. 2 of 4 down: no decision, no fork, then resume). */
  outages?: { index: number; fromMs: number; toMs: number }[]
  /** How many heights ahead of the current one orders target (default 1; 20% target the current one). */
  orderLead?: number
  /** Mean gap between orders (ms). */
  orderEveryMs?: number
  /** Heights every honest validator must gain after the heal. */
  minProgressAfterHeal?: number
  realKeys?: boolean
  /** Print every validator's final round log (debugging a failing seed). */
  dumpState?: boolean
  /** Keep the whole trace (otherwise the last 200 lines). */
  trace?: boolean
  /** Hostile traders, one behaviour each (default: 1–3 from the seed; [] for none). */
  hostileTraders?: TraderBehaviour[]
  /**
   * Intake and inclusion rule as before issue 24: a fetched order is refused for a nonce conflict, the cap
   * or the bond, and the inclusion rule demands each held order itself. Shows the stall the fix removes.
   */
  legacyIntake?: boolean
  /**
   * Termination bound: from the heal point on, no gap between consecutive decided heights (first honest
   * decision of each), nor from the last one to the end of the run, may exceed this (ms). Default 25 s.
   */
  decideBoundMs?: number
}

export interface SimResult {
  seed: number
  ok: boolean
  violations: string[]
  validators: number
  byzantine: { index: number; behaviour: Behaviour }[]
  hostileTraders: TraderBehaviour[]
  heights: number[]
  /** The agreed chain: height, deciding round, the round-0 proposer's index, order count. */
  decided: { height: number; round: number; proposer0: number; orders: number; atMs: number }[]
  /** Proposals honest validators refused, by reason code. */
  refused: Record<string, number>
  stats: {
    delivered: number
    dropped: number
    crashes: number
    partitions: number
    equivocationsDetected: number
    rejectedProposals: number
    orders: number
    decidedOrders: number
    maxRound: number
    simMs: number
    /** Orders refused at intake (new ones) and on fetch (referenced), by code. */
    intakeRefused: Record<string, number>
    /** The longest gap between decided heights (or to the end) from the heal on (ms). */
    maxGapAfterHealMs: number
  }
  trace: string[]
}

const PARAMS: ConsensusParams = {
  batchIntervalMs: 1000,
  timeouts: {
    proposeMs: 1000,
    proposeDeltaMs: 500,
    prevoteMs: 500,
    prevoteDeltaMs: 250,
    precommitMs: 500,
    precommitDeltaMs: 250,
    capMs: 5000,
  },
}
const VALIDATION: ValidationParams = {
  batchIntervalMs: PARAMS.batchIntervalMs,
  maxOrdersPerBatch: 1000,
  inclusionGraceMs: 2000,
  maxClockSkewMs: 300,
  perTraderMaxOrdersPerBatch: SIM_INTAKE.perTraderCap,
}
/** After a fetch that did not bring every order (the service's FETCH_RETRY_MS). */
const FETCH_RETRY_MS = 250
const GENESIS: ParentRef = { hash: `0x${'00'.repeat(32)}`, timestamp: 0n, chainRef: 0n }
const TRADERS = 6
/** Censoring proposers drop this trader's orders. */
const DISLIKED = 0
const SYNC_EVERY_MS = 1000
const ORDER_REPAIR_EVERY_MS = 300
const DOMAIN: NetworkDomain = { chainId: 31337n, verifyingContract: `0x${'11'.repeat(20)}` }

type Wire =
  | { kind: 'consensus'; msg: ConsensusMessage }
  | { kind: 'order'; id: Hex }
  /** Mempool anti-entropy (gossipsub's IHAVE/IWANT repair, modelled): the sender's ids for open batches. */
  | { kind: 'orders'; ids: Hex[] }
  | { kind: 'sync-req'; height: bigint }
  | { kind: 'sync-resp'; commits: Decision[]; messages: ConsensusMessage[] }

interface SimNode {
  index: number
  address: Address
  behaviour: Behaviour | null
  signer: ConsensusSigner
  up: boolean
  generation: number
  driver: ConsensusDriver
  // ---- persisted (survive a crash) ----
  records: SignedRecord[]
  chain: Decision[]
  mempool: SimMempool
  lastHeightSeen: bigint
}

/** Cheap signatures: a tag naming the signer and the message, checked by recomputing it. */
function tagSignature(signer: Address, what: string): Signature {
  const r = keccak256Hex(new TextEncoder().encode(`${signer}|${what}`))
  return { r, s: `0x${'00'.repeat(31)}01`, v: 27 }
}
const voteWhat = (v: UnsignedVote) => `v|${v.type}|${v.height}|${v.round}|${v.valueHash}`
const proposalWhat = (p: UnsignedProposal) =>
  `p|${p.height}|${p.round}|${p.validRound}|${contentHash(p.content)}|${p.proposer}`

function tagSigner(address: Address): ConsensusSigner {
  return {
    address,
    signVote: (v) => tagSignature(address, voteWhat(v)),
    signProposal: (p) => tagSignature(address, proposalWhat(p)),
  }
}

/** Verdicts memoised per message object: the simulation delivers one object to every peer. */
const verified = new WeakMap<object, boolean>()
function memo(m: object, check: () => boolean): boolean {
  let ok = verified.get(m)
  if (ok === undefined) verified.set(m, (ok = check()))
  return ok
}
const tagVerifier: ConsensusVerifier = {
  vote: (v) => memo(v, () => v.signature.r === tagSignature(v.validator, voteWhat(v)).r),
  proposal: (p) => memo(p, () => p.signature.r === tagSignature(p.proposer, proposalWhat(p)).r),
  result: (r, sig, validator) => sig.r === tagSignature(validator, `r|${r.height}|${r.resultHash}`).r,
}

export function runSimulation(opts: SimOptions): SimResult {
  const rng = new Prng(opts.seed)
  const netRng = rng.fork()
  const faultRng = rng.fork()
  const orderRng = rng.fork()
  const n = opts.validators ?? rng.pick([4, 4, 5, 7])
  const f = faultsTolerated(n)
  const chaosMs = opts.chaosMs ?? 20_000
  const healMs = opts.healMs ?? 30_000
  const dropRate = opts.dropRate ?? 0.05
  const dupRate = opts.duplicateRate ?? 0.03
  const minProgress = opts.minProgressAfterHeal ?? 2
  const violations: string[] = []
  const trace: string[] = []
  const log = (line: string) => {
    trace.push(`${String(now).padStart(6)} ${line}`)
    if (!opts.trace && trace.length > 400) trace.splice(0, 200)
  }
  const violate = (v: string) => {
    if (violations.length < 20) violations.push(v)
    log(`VIOLATION ${v}`)
  }

  // Validators: keys and addresses from the seed; the set sorted by address (proposer rotation order).
  const keys: PrivateKey[] = []
  const addresses: Address[] = []
  for (let i = 0; i < n; i++) {
    const k = new Uint8Array(32)
    const h = rng.hex32().slice(2)
    for (let j = 0; j < 32; j++) k[j] = Number.parseInt(h.slice(2 * j, 2 * j + 2), 16)
    k[0] = (k[0] % 0x7f) + 1 // a valid secp256k1 scalar
    keys.push(k)
    addresses.push(opts.realKeys ? keySigner(DOMAIN, k).address : (`0x${h.slice(0, 40)}` as Address))
  }
  const order = addresses.map((_, i) => i).sort((a, b) => (addresses[a] < addresses[b] ? -1 : 1))
  const validators = order.map((i) => addresses[i])
  const verifier = opts.realKeys ? keyVerifier(DOMAIN) : tagVerifier

  let byzantine = opts.byzantine
  if (!byzantine) {
    const count = rng.int(0, f)
    const idx = rng.shuffle([...Array(n).keys()]).slice(0, count)
    byzantine = idx.map((index) => ({ index, behaviour: rng.pick(BEHAVIOURS) }))
  }
  const byzOf = new Map(byzantine.map((b) => [b.index, b.behaviour]))

  let now = 0
  const queue = new EventQueue()
  const at = (t: number, fn: () => void) => queue.push(Math.max(t, now), fn)

  // ---- invariant monitors ----
  const signedBy = new Map<string, string>() // honest double-sign monitor
  const decidedAt = new Map<bigint, { hash: Hex; content: BatchContent; round: number; at: number }>()
  const refused: Record<string, number> = {}
  const registry = new Map<Hex, SimOrder>()
  const intakeRefused: Record<string, number> = {}
  const honestNonces = Array.from({ length: TRADERS }, () => 0n)
  const bonds = new BondBook()
  const legacy = opts.legacyIntake ?? false
  // Their own generator, so that adding them shifts nothing else a seed draws.
  const traderRng = new Prng(opts.seed ^ 0x7a3d_e11d)
  const hostileTraders =
    opts.hostileTraders ?? traderRng.shuffle([...TRADER_BEHAVIOURS]).slice(0, traderRng.int(1, 3))
  let orderCount = 0
  let partitionsCount = 0
  let crashCount = 0
  let delivered = 0
  let dropped = 0
  let maxRound = 0
  let equivocationsDetected = 0
  let rejectedProposals = 0
  const retire = (x: SimNode) => {
    if (x.behaviour !== null) return
    equivocationsDetected += x.driver.stats.equivocations
    rejectedProposals += x.driver.stats.rejectedProposals
  }

  function monitoredSigner(index: number, honest: boolean): ConsensusSigner {
    const base = opts.realKeys ? keySigner(DOMAIN, keys[index]) : tagSigner(addresses[index])
    if (!honest) return base
    const note = (slot: string, value: string) => {
      const prev = signedBy.get(slot)
      if (prev !== undefined && prev !== value) violate(`honest double-sign ${slot}: ${prev} then ${value}`)
      signedBy.set(slot, value)
    }
    return {
      address: base.address,
      signVote: (v) => {
        note(`${base.address}:${v.height}:${v.round}:${v.type}`, String(v.valueHash))
        return base.signVote(v)
      },
      signProposal: (p) => {
        note(`${base.address}:${p.height}:${p.round}:proposal`, `${contentHash(p.content)}/${p.validRound}`)
        return base.signProposal(p)
      },
    }
  }

  const nodes: SimNode[] = []
  for (let i = 0; i < n; i++) {
    const behaviour = byzOf.get(i) ?? null
    const signer = monitoredSigner(i, behaviour === null)
    const node: SimNode = {
      index: i,
      address: addresses[i],
      behaviour,
      signer,
      up: true,
      generation: 0,
      driver: undefined as unknown as ConsensusDriver,
      records: [],
      chain: [],
      mempool: new SimMempool(),
      lastHeightSeen: 1n,
    }
    node.driver = makeDriver(node, initialState(configFor(node), 1n, GENESIS))
    nodes.push(node)
  }
  const honest = nodes.filter((x) => x.behaviour === null)

  function configFor(node: SimNode): ConsensusConfig {
    return { validators, signer: node.signer, params: PARAMS }
  }

  function held(node: SimNode, batch: bigint): Map<Hex, number> {
    return node.mempool.held(batch)
  }

  function intakeView(node: SimNode, t: number): IntakeView {
    const st = node.driver.state
    return {
      height: st.height,
      parentTimestamp: st.parent.timestamp,
      batchIntervalMs: PARAMS.batchIntervalMs,
      now: t,
      bonded: (trader) => bonds.bonded(trader, node.index, t),
    }
  }

  /** A new order reaches a validator (from its trader, gossip or anti-entropy): intake's rules. */
  function takeNew(node: SimNode, o: SimOrder): boolean {
    const refusal = node.mempool.takeNew(o, intakeView(node, now))
    if (refusal) intakeRefused[refusal] = (intakeRefused[refusal] ?? 0) + 1
    return refusal === null
  }

  function makeDriver(node: SimNode, state: ReturnType<typeof initialState>): ConsensusDriver {
    return new ConsensusDriver(state, {
      verifier,
      judge: (content, s, t) =>
        validateProposal(content, {
          height: s.height,
          parent: s.parent,
          now: t,
          params: VALIDATION,
          maxChainRef: BigInt(Math.floor(t / 1000)),
          orderStatus: (id) => {
            const o = registry.get(id)
            if (!o) return 'invalid' // the fetch over sync finds nothing: no such order
            if (o.batch !== s.height) return 'invalid'
            // fetched now, through intake as `referenced`; refused, it stays unknown (parked, fetched again)
            const refusal = node.mempool.takeReferenced(o, intakeView(node, t), legacy)
            if (refusal)
              intakeRefused[`${refusal} (referenced)`] = (intakeRefused[`${refusal} (referenced)`] ?? 0) + 1
            return refusal ? 'unknown' : 'valid'
          },
          heldOrders: () =>
            [...held(node, s.height)].map(([id, since]) => {
              const o = registry.get(id)!
              return { id, since, trader: String(o.trader), nonce: o.nonce }
            }),
          orderKey: legacy
            ? undefined
            : (id) => {
                const o = registry.get(id)
                return o && { trader: String(o.trader), nonce: o.nonce }
              },
        }),
    })
  }

  // ---- network ----
  let partition: number[] | null = null // group id per node
  let healed = false

  function send(from: SimNode, to: SimNode, w: Wire): void {
    if (from === to) return
    if (netRng.chance(dropRate)) {
      dropped++
      return
    }
    const copies = netRng.chance(dupRate) ? 2 : 1
    for (let c = 0; c < copies; c++) {
      const slow = netRng.chance(0.03)
      const delay = slow ? netRng.int(200, 2500) : netRng.int(2, 80)
      at(now + delay, () => {
        if (!to.up || (partition && partition[from.index] !== partition[to.index])) {
          dropped++
          return
        }
        delivered++
        deliver(to, from, w)
      })
    }
  }

  function broadcast(from: SimNode, w: Wire): void {
    for (const to of nodes) if (to !== from) send(from, to, w)
  }

  function deliver(node: SimNode, from: SimNode, w: Wire): void {
    switch (w.kind) {
      case 'order':
        takeNew(node, registry.get(w.id)!)
        break
      case 'orders':
        for (const id of w.ids) {
          const o = registry.get(id)!
          if (!node.mempool.has(o)) takeNew(node, o)
        }
        break
      case 'consensus':
        if (node.behaviour === 'silent') break
        handle(node, node.driver.receive(w.msg, now))
        break
      case 'sync-req': {
        if (node.behaviour === 'silent') break
        const commits = node.chain.slice(Number(w.height) - 1, Number(w.height) - 1 + 8)
        const messages = node.driver.height === w.height ? node.driver.syncMessages() : []
        if (commits.length > 0 || messages.length > 0)
          send(node, from, { kind: 'sync-resp', commits, messages })
        break
      }
      case 'sync-resp':
        if (node.behaviour === 'silent') break
        for (const d of w.commits) handle(node, node.driver.commit(d.content, d.precommits, now))
        for (const m of w.messages) handle(node, node.driver.receive(m, now))
        break
    }
  }

  // ---- a validator's outputs ----
  function handle(node: SimNode, out: DriverOutput): void {
    // Write-ahead: records are persisted before any message leaves (here: in the same atomic event).
    node.records.push(...out.persist)
    for (const r of out.rejected) {
      if (node.behaviour === null) refused[r.code] = (refused[r.code] ?? 0) + 1
      log(
        `n${node.index} refuses h${r.proposal.height} r${r.proposal.round}: ${r.code} ${r.message.slice(0, 60)}`,
      )
    }
    for (const e of out.evidence) log(`n${node.index} evidence ${e.kind} by ${e.validator.slice(0, 8)}`)
    for (const d of out.decisions) onDecision(node, d)
    if (out.decisions.length > 0) {
      const h = node.driver.height
      node.records = node.records.filter((r) => r.height >= h) // prune the WAL below the new height
    }
    maxRound = Math.max(maxRound, node.driver.state.round)
    const gen = node.generation
    for (const t of out.timers) {
      at(now + t.delayMs, () => {
        if (node.up && node.generation === gen) handle(node, node.driver.timeout(t, now))
      })
    }
    if (out.getValue) {
      const req = out.getValue
      at(req.notBefore, () => {
        if (!node.up || node.generation !== gen) return
        handle(
          node,
          node.driver.value(req.height, req.round, proposalContent(node, req.height, req.parent), now),
        )
      })
    }
    for (const m of out.messages) sendConsensus(node, m)
    if (out.missing.length > 0) {
      // The fetch is instant (orderStatus took what intake would take): what is still missing was refused,
      // and is asked for again after a pause, as the service does.
      at(now + FETCH_RETRY_MS, () => {
        if (node.up && node.generation === gen) handle(node, node.driver.retryPending(now))
      })
    }
  }

  function proposalContent(node: SimNode, height: bigint, parent: ParentRef): BatchContent {
    let orders = [...held(node, height)].map(([id, since]) => ({ id, since }))
    if (node.behaviour === 'censor') orders = orders.filter((o) => registry.get(o.id)?.trader !== DISLIKED)
    const content = buildBatchContent({
      height,
      parent,
      now,
      batchIntervalMs: PARAMS.batchIntervalMs,
      maxOrdersPerBatch: VALIDATION.maxOrdersPerBatch,
      chainRef: BigInt(Math.floor(now / 1000)),
      orders,
    })
    if (node.behaviour === 'invalid') {
      const kind = faultRng.int(0, 2)
      if (kind === 0) content.orderIds = [...content.orderIds, faultRng.hex32()].sort()
      else if (kind === 1) content.parentHash = faultRng.hex32()
      else content.timestamp = parent.timestamp
    }
    return content
  }

  function sendConsensus(node: SimNode, m: ConsensusMessage): void {
    if (node.behaviour === 'silent') return
    if (node.behaviour !== 'equivocate') {
      broadcast(node, { kind: 'consensus', msg: m })
      return
    }
    // Equivocation: half the peers get the real message, the other half a conflicting one, signed alike.
    const other = conflicting(node, m)
    for (const to of nodes) {
      if (to === node) continue
      send(node, to, { kind: 'consensus', msg: to.index % 2 === 0 ? m : other })
    }
  }

  function conflicting(node: SimNode, m: ConsensusMessage): ConsensusMessage {
    if (m.type === 'vote') {
      const v = m.vote
      const unsigned: UnsignedVote = {
        type: v.type,
        height: v.height,
        round: v.round,
        valueHash: v.valueHash === null ? faultRng.hex32() : null,
        validator: v.validator,
      }
      const vote: Vote = { ...unsigned, signature: node.signer.signVote(unsigned) }
      return { type: 'vote', vote }
    }
    const p = m.proposal
    const content: BatchContent = { ...p.content, orderIds: p.content.orderIds.slice(0, -1) }
    if (content.orderIds.length === p.content.orderIds.length) content.timestamp += 1n
    const unsigned: UnsignedProposal = {
      height: p.height,
      round: p.round,
      content,
      validRound: p.validRound,
      proposer: p.proposer,
    }
    const proposal: BatchProposal = { ...unsigned, signature: node.signer.signProposal(unsigned) }
    return { type: 'proposal', proposal }
  }

  // ---- invariants checked as decisions happen ----
  function onDecision(node: SimNode, d: Decision): void {
    const parent = node.chain.length > 0 ? node.chain[node.chain.length - 1] : null
    node.chain.push(d)
    node.mempool.decided(d.height, (id) => registry.get(id))
    if (node.behaviour !== null) return
    log(
      `n${node.index} decides h${d.height} r${d.round} ${d.valueHash.slice(0, 10)} (${d.content.orderIds.length} orders)`,
    )
    const prior = decidedAt.get(d.height)
    if (prior && prior.hash !== d.valueHash) {
      violate(`agreement: h${d.height} decided ${prior.hash} and ${d.valueHash} (n${node.index})`)
    }
    if (!prior) decidedAt.set(d.height, { hash: d.valueHash, content: d.content, round: d.round, at: now })
    // Validity: the objective checks, against this validator's own chain.
    const c = d.content
    const p: ParentRef = parent
      ? { hash: parent.valueHash, timestamp: parent.content.timestamp, chainRef: parent.content.chainRef }
      : GENESIS
    if (c.height !== d.height || BigInt(node.chain.length) !== d.height)
      violate(`validity: h${d.height} height`)
    if (c.parentHash !== p.hash) violate(`validity: h${d.height} parent hash`)
    if (c.timestamp < p.timestamp + BigInt(PARAMS.batchIntervalMs))
      violate(`validity: h${d.height} timestamp`)
    if (c.chainRef < p.chainRef) violate(`validity: h${d.height} chainRef decreases`)
    if (c.orderIds.length > VALIDATION.maxOrdersPerBatch) violate(`validity: h${d.height} too many orders`)
    for (let i = 0; i < c.orderIds.length; i++) {
      const o = registry.get(c.orderIds[i])
      if (!o || o.batch !== d.height) violate(`validity: h${d.height} holds invalid order ${c.orderIds[i]}`)
      if (i > 0 && !(c.orderIds[i - 1] < c.orderIds[i])) violate(`validity: h${d.height} ids not ascending`)
    }
  }

  // ---- workload and faults ----
  function maxHonestHeight(): bigint {
    let h = 1n
    for (const x of honest) if (x.driver.height > h) h = x.driver.height
    return h
  }

  function scheduleOrder(): void {
    at(now + orderRng.int(1, 2 * (opts.orderEveryMs ?? 120)), () => {
      if (now < chaosMs + healMs) scheduleOrder()
      const entry = orderRng.pick(nodes)
      if (!entry.up) return
      const h = maxHonestHeight() + (orderRng.chance(0.8) ? BigInt(opts.orderLead ?? 1) : 0n)
      const trader = orderRng.int(0, TRADERS - 1)
      const o = newOrder(trader, h, ++honestNonces[trader])
      // An honest trader keeps to the rules; its order may still be late for the batch (refused).
      if (takeNew(entry, o) && entry.behaviour !== 'silent') broadcast(entry, { kind: 'order', id: o.id })
    })
  }

  function newOrder(trader: number, batch: bigint, nonce: bigint): SimOrder {
    const o: SimOrder = { id: orderRng.hex32(), batch, trader, nonce }
    registry.set(o.id, o)
    orderCount++
    return o
  }

  function scheduleSync(node: SimNode): void {
    at(now + SYNC_EVERY_MS + netRng.int(0, 200), () => {
      scheduleSync(node)
      if (!node.up || node.behaviour === 'silent') return
      const h = node.driver.height
      if (h === node.lastHeightSeen) {
        // No progress since the last tick: ask a random peer for decided batches and this height's messages.
        const peer = netRng.pick(nodes.filter((x) => x !== node))
        send(node, peer, { kind: 'sync-req', height: h })
      }
      node.lastHeightSeen = h
    })
  }

  function scheduleOrderRepair(node: SimNode): void {
    at(now + ORDER_REPAIR_EVERY_MS + netRng.int(0, 100), () => {
      scheduleOrderRepair(node)
      if (!node.up || node.behaviour === 'silent') return
      const h = node.driver.height
      const ids: Hex[] = []
      for (const b of [h, h + 1n, h + 2n])
        for (const id of node.mempool.byBatch.get(b)?.keys() ?? []) ids.push(id)
      if (ids.length > 0) send(node, netRng.pick(nodes.filter((x) => x !== node)), { kind: 'orders', ids })
    })
  }

  function crash(node: SimNode, downMs: number): void {
    node.up = false
    node.generation++
    crashCount++
    log(`n${node.index} crashes at h${node.driver.height} r${node.driver.state.round} for ${downMs}ms`)
    at(now + downMs, () => restart(node))
  }

  function restart(node: SimNode): void {
    if (node.up) return
    const last = node.chain[node.chain.length - 1]
    const parent: ParentRef = last
      ? { hash: last.valueHash, timestamp: last.content.timestamp, chainRef: last.content.chainRef }
      : GENESIS
    retire(node)
    const state = restoreState(configFor(node), BigInt(node.chain.length + 1), parent, node.records)
    node.driver = makeDriver(node, state)
    node.up = true
    node.generation++
    log(`n${node.index} restarts at h${state.height} r${state.round} ${state.step}`)
    handle(node, node.driver.start(now))
  }

  function scheduleFaults(): void {
    for (const o of opts.outages ?? []) at(o.fromMs, () => crash(nodes[o.index], o.toMs - o.fromMs))
    if (opts.partitions ?? true) {
      let t = faultRng.int(1000, 4000)
      while (t < chaosMs) {
        const start = t
        const len = faultRng.int(500, 5000)
        const groups = nodes.map(() => faultRng.int(0, 1))
        at(start, () => {
          partition = groups
          partitionsCount++
          log(`partition ${groups.join('')} for ${len}ms`)
        })
        at(Math.min(start + len, chaosMs), () => {
          partition = null
          log('partition heals')
        })
        t = start + len + faultRng.int(1000, 6000)
      }
    }
    if (opts.crashes ?? true) {
      let t = faultRng.int(500, 3000)
      while (t < chaosMs) {
        const victim = faultRng.pick(honest)
        const down = faultRng.int(200, 4000)
        at(t, () => {
          if (victim?.up) crash(victim, Math.min(down, Math.max(1, chaosMs - now)))
        })
        t += faultRng.int(1000, 5000)
      }
    }
  }

  // ---- run ----
  let heightsAtHeal: bigint[] = []
  at(chaosMs, () => {
    partition = null
    healed = true
    for (const x of nodes) if (!x.up) restart(x)
    heightsAtHeal = nodes.map((x) => x.driver.height)
    log(`heal: heights ${heightsAtHeal.join(',')}`)
  })
  scheduleFaults()
  scheduleOrder()
  scheduleHostileTraders(
    {
      rng: traderRng,
      validators: n,
      now: () => now,
      at,
      open: () => now < chaosMs + healMs,
      position: () => {
        const top = honest.reduce(
          (a, b) => (b.driver.height > a.driver.height ? b : a),
          honest[0] ?? nodes[0],
        )
        return { height: top.driver.height, parentTimestamp: top.driver.state.parent.timestamp }
      },
      batchIntervalMs: PARAMS.batchIntervalMs,
      newOrder,
      deliver: (to, o) => {
        const node = nodes[to]
        if (!node.up) return
        if (takeNew(node, o) && node.behaviour !== 'silent') broadcast(node, { kind: 'order', id: o.id })
      },
    },
    hostileTraders,
    bonds,
  )
  for (const node of nodes) scheduleSync(node)
  for (const node of nodes) scheduleOrderRepair(node)
  for (const node of nodes) handle(node, node.driver.start(now))

  const end = chaosMs + healMs
  for (let e = queue.pop(); e && e.at <= end; e = queue.pop()) {
    now = e.at
    e.run()
  }
  now = end

  // ---- invariants checked at the end ----
  if (opts.dumpState) {
    for (const x of nodes) {
      const st = x.driver.state
      const rounds = [...st.rounds].map(
        ([r, l]) =>
          `r${r}:P${l.proposals.size}${l.first ? (l.first.valid ? 'v' : 'i') + (l.first.acceptable ? 'a' : 'x') : ''} pv[${[
            ...l.prevotes.values(),
          ]
            .flat()
            .map((v) => (v.valueHash ? v.valueHash.slice(2, 5) : 'nil'))
            .join(',')}] pc[${[...l.precommits.values()]
            .flat()
            .map((v) => (v.valueHash ? v.valueHash.slice(2, 5) : 'nil'))
            .join(',')}]`,
      )
      console.log(
        `n${x.index} ${x.behaviour ?? ''} up=${x.up} h${st.height} r${st.round} ${st.step} lock=${st.lockedRound} valid=${st.validRound}\n   ${rounds.join('\n   ')}`,
      )
    }
  }
  if (!healed) violate('the run never reached its heal point')
  const target = heightsAtHeal.filter((_, i) => nodes[i].behaviour === null)
  // biome-ignore lint/complexity/useMathMinMax: bigints (Math.max takes numbers)
  const healHeight = target.reduce((a, b) => (a > b ? a : b), 1n)
  for (const x of honest) {
    if (x.driver.height < healHeight + BigInt(minProgress)) {
      violate(
        `termination: n${x.index} at h${x.driver.height}, expected ≥ ${healHeight + BigInt(minProgress)}`,
      )
    }
  }
  // Termination within a bound: from the heal on, every gap between decided heights (the first honest
  // decision of each) and the one from the last decision to the end of the run.
  const bound = opts.decideBoundMs ?? 25_000
  const times = [chaosMs, ...[...decidedAt.values()].map((d) => d.at).filter((t) => t > chaosMs), end].sort(
    (a, b) => a - b,
  )
  let maxGapAfterHealMs = 0
  for (let i = 1; i < times.length; i++) {
    const gap = times[i] - times[i - 1]
    if (gap > maxGapAfterHealMs) maxGapAfterHealMs = gap
    if (gap > bound)
      violate(`termination bound: no height decided between ${times[i - 1]} and ${times[i]} ms`)
  }
  // Inclusion: an order every honest validator held since before (parent + interval − grace) is in its batch,
  // or (issue 24) the batch holds another envelope of its trader and nonce, or the cap's worth of its
  // trader's orders — what an honest proposer whose intake refused it could hold instead.
  let decidedOrders = 0
  for (const [h, { content }] of decidedAt) {
    decidedOrders += content.orderIds.length
    if (content.orderIds.length >= VALIDATION.maxOrdersPerBatch) continue
    const ids = new Set(content.orderIds)
    const nonces = new Set<string>()
    const perTrader = new Map<number, number>()
    for (const id of content.orderIds) {
      const o = registry.get(id)
      if (!o) continue
      nonces.add(`${o.trader}:${o.nonce}`)
      perTrader.set(o.trader, (perTrader.get(o.trader) ?? 0) + 1)
    }
    const covered = (id: Hex) => {
      if (legacy) return false
      const o = registry.get(id)!
      return nonces.has(`${o.trader}:${o.nonce}`) || (perTrader.get(o.trader) ?? 0) >= SIM_INTAKE.perTraderCap
    }
    const parentTimestamp = h === 1n ? GENESIS.timestamp : decidedAt.get(h - 1n)?.content.timestamp
    if (parentTimestamp === undefined) continue
    const cutoff = inclusionCutoff(content.timestamp, parentTimestamp, VALIDATION)
    const first = honest[0]
    for (const [id, since] of first ? held(first, h) : []) {
      if (since >= cutoff || ids.has(id) || covered(id)) continue
      if (honest.every((x) => (x.mempool.byBatch.get(h)?.get(id) ?? Number.POSITIVE_INFINITY) < cutoff)) {
        violate(`inclusion: h${h} omits ${id.slice(0, 10)} held by every honest validator since ≤ ${since}`)
      }
    }
  }
  for (const x of honest) retire(x)
  return {
    seed: opts.seed,
    ok: violations.length === 0,
    violations,
    validators: n,
    byzantine,
    hostileTraders,
    heights: nodes.map((x) => Number(x.driver.height)),
    decided: [...decidedAt]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([h, d]) => ({
        height: Number(h),
        round: d.round,
        proposer0: addresses.indexOf(proposerOf(validators, h, 0)),
        orders: d.content.orderIds.length,
        atMs: d.at,
      })),
    refused,
    stats: {
      delivered,
      dropped,
      crashes: crashCount,
      partitions: partitionsCount,
      equivocationsDetected,
      rejectedProposals,
      orders: orderCount,
      decidedOrders,
      maxRound,
      simMs: end,
      intakeRefused,
      maxGapAfterHealMs,
    },
    trace,
  }
}
