/**
 * An observer on a running network: a libp2p host (not a validator) that joins the consensus and results
 * gossip topics and records every proposal, vote and result attestation it sees, each checked against its
 * signer. From that record, checks from outside the validators:
 * - no validator signed two different proposals, or two different votes, for one (height, round, step);
 * - no validator signed two different results for one height;
 * - no two values gathered a quorum of precommits at one height (agreement), nor two results a quorum.
 * Votes read from the validators' stores afterwards (their decided commits) can be added with `addVote`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { domainOf, type Genesis, loadOrCreatePeerKey } from '@allot/node'
import { AllotError, type BatchProposal, decode, type Hex, type Vote } from '@allot/protocol'
import {
  type Attestation,
  attestationCodec,
  contentHash,
  decodeConsensusMessage,
  keyVerifier,
  quorumOf,
} from '../../packages/node/src/consensus/index.js'
import { recoverAddressFast } from '../../packages/node/src/crypto/index.js'
import { type AllotHost, createHost, Gossip, topicOf } from '../../packages/node/src/network/index.js'

/** What one validator signed in one slot: every distinct value. */
interface Slot {
  values: Set<string>
}

export interface Conflict {
  kind: 'proposal' | 'prevote' | 'precommit' | 'result'
  validator: string
  height: bigint
  round: number
  values: string[]
}

export class ConsensusObserver {
  private host!: AllotHost
  private gossip!: Gossip
  /** Holds the observer's peer key; made by `start` (checking votes needs no host). */
  private dir: string | undefined
  private readonly slots = new Map<string, Slot & Omit<Conflict, 'values'>>()
  /** Precommits per height, round and value: the signers. */
  private readonly precommits = new Map<bigint, Map<string, Set<string>>>()
  /** Result attestations per height and result hash: the signers. */
  private readonly results = new Map<bigint, Map<Hex, Set<string>>>()
  /** When each height was first seen decided (a quorum of precommits for one value), ms since epoch. */
  readonly decidedAt = new Map<bigint, number>()
  readonly certifiedAt = new Map<bigint, number>()
  /** Proposed contents by hash: when the proposer stamped it and how many orders it holds. */
  readonly proposed = new Map<string, { timestamp: bigint; orders: number; seenAt: number }>()
  /** Messages seen, and messages refused (bad signature, not a validator). */
  readonly counts = { proposals: 0, votes: 0, results: 0, refused: 0 }
  private readonly verifier
  private readonly validators: Set<string>
  private readonly quorum: number

  constructor(readonly genesis: Genesis) {
    this.verifier = keyVerifier(domainOf(genesis), recoverAddressFast)
    this.validators = new Set(genesis.validators.map((v) => v.address.toLowerCase()))
    this.quorum = quorumOf(this.validators.size)
  }

  async start(peers: string[]): Promise<void> {
    const g = this.genesis
    const consensus = topicOf(g.networkId, 'consensus')
    const results = topicOf(g.networkId, 'results')
    this.host = await createHost({
      privateKey: await loadOrCreatePeerKey((this.dir = mkdtempSync(join(tmpdir(), 'allot-observer-')))),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: peers,
      topics: [consensus, results].map((topic) => ({ topic, weight: 1 })),
      allowColocation: true,
    })
    this.gossip = new Gossip(this.host.services.pubsub)
    this.gossip.subscribe(consensus, {
      maxBytes: 4 * 1024 * 1024,
      validate: async (data) => {
        const m = decodeConsensusMessage(data)
        if (m.type === 'proposal') this.onProposal(m.proposal)
        else this.onVote(m.vote)
        return m
      },
    })
    this.gossip.subscribe(results, {
      maxBytes: 1024,
      validate: async (data) => {
        this.onResult(decode(attestationCodec, data, 1024))
        return true
      },
    })
  }

  /** Publishes on one of the network's topics (the observer is not subscribed to it: gossipsub's fanout). */
  async publish(topic: string, data: Uint8Array): Promise<number> {
    return this.gossip.publish(topic, data)
  }

  /** Validators this observer is connected to (the bootstrap list is dialled, and kept alive). */
  connected(): number {
    return this.host.getPeers().length
  }

  /** Peers seen on the consensus topic's mesh. */
  topicPeers(): number {
    return this.gossip.peersOn(topicOf(this.genesis.networkId, 'consensus'))
  }

  async stop(): Promise<void> {
    this.gossip?.close()
    try {
      await this.host?.stop()
    } catch {
      // already stopping
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true })
  }

  private member(address: string): void {
    if (!this.validators.has(address.toLowerCase())) {
      this.counts.refused++
      throw new AllotError('CONSENSUS_UNKNOWN_VALIDATOR', `${address} is not a validator`)
    }
  }

  private record(kind: Conflict['kind'], validator: string, height: bigint, round: number, value: string) {
    const key = `${kind}|${validator.toLowerCase()}|${height}|${round}`
    let s = this.slots.get(key)
    if (!s) {
      s = { kind, validator: validator.toLowerCase(), height, round, values: new Set() }
      this.slots.set(key, s)
    }
    s.values.add(value)
  }

  onProposal(p: BatchProposal): void {
    this.member(p.proposer)
    if (!this.verifier.proposal(p)) {
      this.counts.refused++
      throw new AllotError('CONSENSUS_BAD_SIGNATURE', 'proposal signature')
    }
    this.counts.proposals++
    const hash = contentHash(p.content)
    if (!this.proposed.has(hash)) {
      this.proposed.set(hash, {
        timestamp: p.content.timestamp,
        orders: p.content.orderIds.length,
        seenAt: Date.now(),
      })
    }
    // The proposer signs (height, round, content hash, validRound): a second one differing in either is a double sign.
    this.record('proposal', p.proposer, p.height, p.round, `${hash}/${p.validRound}`)
  }

  /** A signed vote, from gossip or read from a validator's store. Returns false when its signature fails. */
  addVote(v: Vote): boolean {
    if (!this.verifier.vote(v)) return false
    const value = v.valueHash ?? 'nil'
    this.record(v.type, v.validator, v.height, v.round, value)
    if (v.type === 'precommit' && v.valueHash) {
      let byValue = this.precommits.get(v.height)
      if (!byValue) this.precommits.set(v.height, (byValue = new Map()))
      const k = `${v.round}|${v.valueHash}`
      let signers = byValue.get(k)
      if (!signers) byValue.set(k, (signers = new Set()))
      signers.add(v.validator.toLowerCase())
      if (signers.size >= this.quorum && !this.decidedAt.has(v.height))
        this.decidedAt.set(v.height, Date.now())
    }
    return true
  }

  private onVote(v: Vote): void {
    this.member(v.validator)
    if (!this.addVote(v)) {
      this.counts.refused++
      throw new AllotError('CONSENSUS_BAD_SIGNATURE', 'vote signature')
    }
    this.counts.votes++
  }

  private onResult(a: Attestation): void {
    this.member(a.validator)
    if (!this.verifier.result(a.result, a.signature, a.validator)) {
      this.counts.refused++
      throw new AllotError('CONSENSUS_BAD_SIGNATURE', 'result signature')
    }
    this.counts.results++
    const h = a.result.height
    this.record('result', a.validator, h, 0, a.result.resultHash)
    let byHash = this.results.get(h)
    if (!byHash) this.results.set(h, (byHash = new Map()))
    let signers = byHash.get(a.result.resultHash)
    if (!signers) byHash.set(a.result.resultHash, (signers = new Set()))
    signers.add(a.validator.toLowerCase())
    if (signers.size >= this.quorum && !this.certifiedAt.has(h)) this.certifiedAt.set(h, Date.now())
  }

  /** Every slot in which one validator signed more than one value. */
  conflicts(): Conflict[] {
    const out: Conflict[] = []
    for (const s of this.slots.values()) {
      if (s.values.size > 1) {
        out.push({
          kind: s.kind,
          validator: s.validator,
          height: s.height,
          round: s.round,
          values: [...s.values],
        })
      }
    }
    return out
  }

  /** Heights at which more than one value gathered a quorum of precommits (in any rounds). */
  forks(): { height: bigint; values: string[] }[] {
    const out: { height: bigint; values: string[] }[] = []
    for (const [h, byValue] of this.precommits) {
      const decided = new Set<string>()
      for (const [k, signers] of byValue) if (signers.size >= this.quorum) decided.add(k.split('|')[1])
      if (decided.size > 1) out.push({ height: h, values: [...decided] })
    }
    return out
  }

  /** The value decided at a height, as the precommits seen show it. */
  decidedValue(h: bigint): string | undefined {
    for (const [k, signers] of this.precommits.get(h) ?? [])
      if (signers.size >= this.quorum) return k.split('|')[1]
    return undefined
  }

  /** Heights at which more than one result hash gathered a quorum of attestations. */
  resultForks(): { height: bigint; hashes: string[] }[] {
    const out: { height: bigint; hashes: string[] }[] = []
    for (const [h, byHash] of this.results) {
      const certified = [...byHash].filter(([, s]) => s.size >= this.quorum).map(([hash]) => hash)
      if (certified.length > 1) out.push({ height: h, hashes: certified })
    }
    return out
  }

  /** Whether a validator's non-nil precommit was seen for a height above `after`. */
  precommitted(validator: string, after: bigint): boolean {
    const v = validator.toLowerCase()
    for (const [h, byValue] of this.precommits) {
      if (h <= after) continue
      for (const signers of byValue.values()) if (signers.has(v)) return true
    }
    return false
  }

  /** The highest height seen decided, or 0. */
  topDecided(): bigint {
    let top = 0n
    for (const h of this.decidedAt.keys()) if (h > top) top = h
    return top
  }

  topCertified(): bigint {
    let top = 0n
    for (const h of this.certifiedAt.keys()) if (h > top) top = h
    return top
  }
}
