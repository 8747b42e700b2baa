// Issue 24, "One Byzantine validator", on four validators on loopback (real libp2p, gossipsub, level);
// validator 3 is the Byzantine one:
// - it proposes chainRef 2⁶³ (the others' chain view is at block 100): decided, every later balance read
//   would fail and the contract would refuse the batch (ChainRefOutOfRange) — it must not be decided;
// - after each decision it gossips a validly signed attestation for a height a billion ahead: opening a
//   book there used to delete every book below it, the ones in progress included (our own attestation
//   too), so the heights being certified never were — every decided height must still certify.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addressOf, encode, keccak256Hex, type PrivateKey } from '@allot/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import {
  attestationCodec,
  ConsensusService,
  encodeConsensusMessage,
  keySigner,
} from '../packages/node/src/consensus/index.js'
import { type AllotNode, createNode, type Genesis } from '../packages/node/src/index.js'
import { messageId, topicOf } from '../packages/node/src/network/index.js'
import { validatorGenesis, waitFor } from './node-fixtures.js'

const keys: PrivateKey[] = [1, 2, 3, 4].map((i) => new Uint8Array(32).fill(0x60 + i))
const HONEST_VIEW = 100n
const BYZANTINE = 3

function genesis(): Genesis {
  // The multi-node tests' validator network (500 ms batches, short timeouts), without sealing.
  return validatorGenesis('byzantine-chainref', keys, { enabled: false })
}

const running: { node: AllotNode; service: ConsensusService }[] = []
const dirs: string[] = []

afterAll(async () => {
  for (const v of running) {
    await v.service.stop().catch(() => {})
    await v.node.stop().catch(() => {})
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const decided: bigint[][] = keys.map(() => [])

describe('a Byzantine validator', () => {
  it('cannot get a chainRef beyond the honest validators’ chain view decided; batches go on', {
    timeout: 90_000,
  }, async () => {
    const g = genesis()
    for (let i = 0; i < keys.length; i++) {
      const dataDir = mkdtempSync(join(tmpdir(), 'allot-byz-'))
      dirs.push(dataDir)
      const node = await createNode({ genesis: g, dataDir, verifier: { threads: 1 }, validatorKey: keys[i] })
      await node.start()
      const service = new ConsensusService(node, {
        validatorKey: keys[i],
        chainRef: () => (i === BYZANTINE ? 2n ** 63n : HONEST_VIEW),
        onDecided: (d) => {
          decided[i].push(d.content.chainRef)
          // Every validator's "solver" agrees: the certificate needs any three of them.
          void service.attest(d.height, keccak256Hex(new TextEncoder().encode(d.valueHash)))
          if (i === BYZANTINE) {
            const far = { height: d.height + 1_000_000_000n, resultHash: d.valueHash }
            const signer = keySigner({ chainId: g.chainId, verifyingContract: g.settlement }, keys[i])
            const a = { result: far, validator: signer.address, signature: signer.signResult(far) }
            void node.gossip
              .publish(topicOf(g.networkId, 'results'), encode(attestationCodec, a))
              .catch(() => {})
          }
        },
      })
      running.push({ node, service })
    }
    for (let i = 0; i < running.length; i++)
      for (let j = i + 1; j < running.length; j++)
        await running[i].node.host.dial(running[j].node.host.getMultiaddrs()[0])
    for (const v of running) await v.service.start()
    // Twelve heights: the Byzantine validator's turn to propose comes up three times at least.
    await waitFor(() => decided.slice(0, 3).every((d) => d.length >= 12), 60_000, '12 decided heights')
    for (let i = 0; i < 3; i++) for (const c of decided[i]) expect(c).toBeLessThanOrEqual(HONEST_VIEW)
  })

  it('cannot wipe the attestation books with far-future attestations: every decided height certifies', {
    timeout: 60_000,
  }, async () => {
    const upTo = BigInt(Math.min(...decided.slice(0, 3).map((d) => d.length))) - 1n
    const certified = async (n: AllotNode) => {
      for (let h = 2n; h <= upTo; h++) if (!(await n.storage.certificates.get(h))) return false
      return true
    }
    const honest = running.slice(0, 3).map((v) => v.node)
    const all = async () => (await Promise.all(honest.map(certified))).every(Boolean)
    await waitFor(all, 20_000, `certificates for heights 2..${upTo} at every honest validator`)
  })

  it('a peer’s forged consensus messages are refused where they land: not forwarded, its score falls', {
    timeout: 60_000,
  }, async () => {
    const g = running[0].node.genesis
    const dataDir = mkdtempSync(join(tmpdir(), 'allot-byz-peer-'))
    dirs.push(dataDir)
    // Any peer: a plain node, linked to validator 0 only.
    const peer = await createNode({ genesis: g, dataDir, verifier: { threads: 1 } })
    await peer.start()
    running.push({ node: peer, service: { stop: async () => {} } as unknown as ConsensusService })
    await peer.host.dial(running[0].node.host.getMultiaddrs()[0])
    const topic = topicOf(g.networkId, 'consensus')
    await waitFor(() => peer.gossip.peersOn(topic) >= 1, 10_000, 'the peer to see validator 0 on the topic')
    const seen = running.slice(1, 3).map(() => new Set<string>())
    for (const [i, v] of running.slice(1, 3).entries()) {
      v.node.host.services.pubsub.addEventListener('gossipsub:message', (ev) => {
        const d = (ev as CustomEvent).detail as { msg: { topic: string; data: Uint8Array } }
        if (d.msg.topic === topic) seen[i].add(Buffer.from(messageId(d.msg.data)).toString('hex'))
      })
    }
    const forged: string[] = []
    const stranger = keySigner(
      { chainId: g.chainId, verifyingContract: g.settlement },
      new Uint8Array(32).fill(0x7f),
    )
    for (let k = 0; k < 20; k++) {
      const unsigned = {
        type: 'prevote' as const,
        // The next height: still admitted (so checked, and rejected) if validator 0 decides one height
        // before the message lands. At the current height, a decision in between made it "old",
        // which is ignored without penalty, and the score never fell (a loaded machine did that).
        height: running[0].service.height + 1n,
        round: k,
        valueHash: `0x${k.toString(16).padStart(64, '0')}` as const,
        // In a validator's name (a forged signature), or a stranger's own vote.
        validator: k % 2 === 0 ? addressOf(keys[1]) : stranger.address,
      }
      const data = encodeConsensusMessage({
        type: 'vote',
        vote: { ...unsigned, signature: stranger.signVote(unsigned) },
      })
      forged.push(Buffer.from(messageId(data)).toString('hex'))
      await peer.gossip.publish(topic, data).catch(() => {})
    }
    const v0 = running[0].node.host.services.pubsub
    await waitFor(() => v0.getScore(peer.peerId) < 0, 10_000, 'the forger’s score to fall')
    // Give a forward time to happen (heartbeats, IHAVE), then check it did not.
    await new Promise((r) => setTimeout(r, 2_000))
    for (const s of seen) for (const id of forged) expect(s.has(id)).toBe(false)
  })
})
