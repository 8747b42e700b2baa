import {
  type Address,
  decode,
  encode,
  keyShareCodec,
  list,
  MAX_DKG_MESSAGE_BYTES,
  MAX_DKG_SHARES_REQUEST_BYTES,
  type PrivateKey,
  protocolOf,
  u64,
} from '@allot/protocol'
import type { Genesis } from '../config/index.js'
import { domainOf } from '../config/index.js'
import type { SealingMetrics } from '../metrics/index.js'
import { request } from '../network/index.js'
import { topicOf } from '../network/topics.js'
import type { AllotNode } from '../node.js'
import { dkgScheduleOf, EpochDkg } from './dkg.js'
import { nativeDkgOps } from './fast.js'
import type { SealingService } from './service.js'
import { dkgMessagesCodec, dkgRefsCodec, MAX_DKG_REFS } from './wire.js'

const enc = new TextEncoder()
const dec = new TextDecoder()

/** Answer frames of the shares protocol: 0x00 ‖ signed DkgShares, 0x00 alone (none), or 0x01 ‖ "CODE: message". */
const OK = 0
const ERR = 1
/** Largest answer of the messages-by-ref protocol: a few deals. */
const MAX_DKG_REFS_ANSWER_BYTES = 4 * MAX_DKG_MESSAGE_BYTES

/**
 * Wires the validators' DKG into a running node (run.ts): the gossip topic `/allot/<net>/dkg/1` for
 * deals, complaints and answers; the private protocol `/allot/<net>/dkg-shares/1` for DkgShares; and
 * the sealing service's decided heights as its clock. Why a request/response protocol for the shares
 * rather than ECIES on the topic: the libp2p stream is already encrypted and authenticated (noise,
 * ephemeral keys: forward secrecy — a validator key stolen later opens no recorded share), needs no
 * validator public keys (genesis lists addresses), and puts no ciphertext of any secret on a public
 * channel. The price: validators need direct links to each other (genesis lists their addresses).
 */
export async function wireEpochDkg(
  node: AllotNode,
  sealing: SealingService,
  g: Genesis,
  validators: Address[],
  validatorKey: PrivateKey | undefined,
  metrics?: SealingMetrics,
): Promise<EpochDkg> {
  const topic = topicOf(g.networkId, 'dkg')
  const protocol = protocolOf('dkg-shares', g.networkId)
  const refsProtocol = protocolOf('dkg-refs', g.networkId)
  const dkg = new EpochDkg({
    domain: domainOf(g),
    validators,
    validatorKey,
    schedule: dkgScheduleOf(g),
    service: sealing,
    ops: nativeDkgOps,
    logger: node.logger.child({ service: 'dkg' }),
    metrics,
    // A node that is not a validator decides nothing: it follows the DKG as an observer on its own clock
    // (the schedule's current height) to learn each new epoch's public part (batchKey, share checks).
    observerClock: validatorKey
      ? undefined
      : { currentHeight: () => node.schedule.currentHeight(), everyMs: Math.min(g.batchIntervalMs, 5_000) },
    decidedRefsAt: async (h) => {
      const c = await node.storage.batches.get(h)
      return c ? (c.dkgRefs ?? []) : undefined
    },
    transport: {
      peerId: () => node.peerId,
      broadcast: async (bytes) => {
        await node.gossip.publish(topic, bytes)
      },
      requestShares: async (req) => {
        const answers = await Promise.all(
          node.host.getPeers().map((peer) =>
            request(node.host, peer, protocol, req, {
              deadlineMs: 5_000,
              maxResponseBytes: MAX_DKG_MESSAGE_BYTES + 1024,
            }).catch(() => undefined),
          ),
        )
        return answers
          .filter((a): a is Uint8Array => !!a && a.length > 1 && a[0] === OK)
          .map((a) => a.subarray(1))
      },
      // Ask each connected peer in turn until every ref is found (a proposal's or a decided height's).
      fetchRefs: async (refs) => {
        const out: Uint8Array[] = []
        const want = encode(dkgRefsCodec, refs.slice(0, MAX_DKG_REFS))
        for (const peer of node.host.getPeers()) {
          const a = await request(node.host, peer, refsProtocol, want, {
            deadlineMs: 5_000,
            maxResponseBytes: MAX_DKG_REFS_ANSWER_BYTES,
          }).catch(() => undefined)
          if (!a || a[0] !== OK) continue
          try {
            out.push(...decode(dkgMessagesCodec, a.subarray(1)))
          } catch {
            continue
          }
          if (out.length >= refs.length) break
        }
        return out
      },
    },
  })
  node.gossip.subscribe(topic, {
    maxBytes: MAX_DKG_MESSAGE_BYTES + 1024,
    validate: async (data) => dkg.onBroadcast(data),
  })
  await node.registerProtocol(
    protocol,
    async (req, ctx) => {
      const signed = dkg.serveShares(req, ctx.peer)
      if (!signed) return Uint8Array.of(OK)
      const out = new Uint8Array(signed.length + 1)
      out[0] = OK
      out.set(signed, 1)
      return out
    },
    {
      maxRequestBytes: MAX_DKG_SHARES_REQUEST_BYTES,
      deadlineMs: 5_000,
      maxInboundStreams: 16,
      errorFrame: (code, message) => {
        const m = enc.encode(`${code}: ${message}`)
        const out = new Uint8Array(m.length + 1)
        out[0] = ERR
        out.set(m, 1)
        return out
      },
      codeOf: (f) => (f[0] === ERR ? dec.decode(f.subarray(1)).split(':')[0] : undefined),
    },
  )
  await node.registerProtocol(
    refsProtocol,
    async (req) => {
      const refs = decode(dkgRefsCodec, req, MAX_DKG_REFS * 32 + 8)
      const answer = encode(dkgMessagesCodec, dkg.serveRefs(refs))
      if (answer.length + 1 > MAX_DKG_REFS_ANSWER_BYTES) {
        // A deal is large: answer the first few; the asker asks again for the rest.
        return Uint8Array.of(OK, ...encode(dkgMessagesCodec, dkg.serveRefs(refs.slice(0, 1))))
      }
      const out = new Uint8Array(answer.length + 1)
      out[0] = OK
      out.set(answer, 1)
      return out
    },
    {
      maxRequestBytes: MAX_DKG_REFS * 32 + 8,
      deadlineMs: 5_000,
      maxInboundStreams: 16,
      errorFrame: (code, message) => Uint8Array.of(ERR, ...enc.encode(`${code}: ${message}`)),
      codeOf: (f) => (f[0] === ERR ? dec.decode(f.subarray(1)).split(':')[0] : undefined),
    },
  )
  sealing.attachEpochGenerator(dkg)
  return dkg
}

/** The key-shares protocol: a node asks peers for the released shares of a decided batch it missed. */

/** At most n shares of ≤ 512 bytes each are answered per request. */
const MAX_KEY_SHARES = 256
const keySharesAnswer = list(keyShareCodec, MAX_KEY_SHARES)

/**
 * Fetching missed unseal shares (docs/sealing.md "Unsealing"): serves the valid released shares this
 * node holds for a height, and returns `fetchMissing(h)` — asks every connected peer (at most once per
 * `everyMs` per height) and feeds what they answer through SealingService.onShare, which checks each
 * share (signer, index, Feldman commitments) exactly as on gossip. The opener calls it while it waits
 * for t+1 shares (`SealingOpenerOptions.onWaiting`): a restarted validator opens the batches it missed
 * as soon as a peer answers, instead of waiting out the unseal deadline.
 */
export async function wireKeyShareFetch(
  node: AllotNode,
  sealing: SealingService,
  g: Genesis,
  everyMs = 500,
): Promise<(height: bigint) => void> {
  const protocol = protocolOf('keyshares', g.networkId)
  await node.registerProtocol(
    protocol,
    async (req) => {
      const height = decode(u64, req, 8)
      const shares = await sealing.sharesToServe(height)
      return Uint8Array.of(OK, ...encode(keySharesAnswer, shares.slice(0, MAX_KEY_SHARES)))
    },
    {
      maxRequestBytes: 8,
      deadlineMs: 5_000,
      maxInboundStreams: 16,
      errorFrame: (code, message) => Uint8Array.of(ERR, ...enc.encode(`${code}: ${message}`)),
      codeOf: (f) => (f[0] === ERR ? dec.decode(f.subarray(1)).split(':')[0] : undefined),
    },
  )
  const asked = new Map<bigint, number>()
  return (height) => {
    const now = Date.now()
    if ((asked.get(height) ?? 0) + everyMs > now) return
    asked.set(height, now)
    if (asked.size > 64) for (const h of asked.keys()) if (h < height - 64n) asked.delete(h)
    for (const peer of node.host.getPeers()) {
      void request(node.host, peer, protocol, encode(u64, height), {
        deadlineMs: 3_000,
        maxResponseBytes: MAX_KEY_SHARES * 512 + 16,
      })
        .then((a) => {
          if (a[0] !== OK) return
          for (const ks of decode(keySharesAnswer, a.subarray(1)))
            if (ks.height === height) sealing.onShare(ks)
        })
        .catch(() => {})
    }
  }
}
