// The validators' DKG end to end in one process: four validators (real libp2p on loopback, gossipsub,
// level) run consensus on a short dealt epoch; the DKG of the next epochs runs over their links
// (`/allot/<net>/dkg/1` broadcasts, `/allot/<net>/dkg-shares/1` private shares) with one dealer
// cheating; batches cross the epoch boundaries, and a sealed order for a DKG-keyed batch opens only
// after its decision.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AllotClient, domainOf, type Genesis } from '@allot/node'
import {
  addressOf,
  type DkgMessage,
  dealEpoch,
  decode,
  deterministicRng,
  encode,
  type Hex,
  isAllotError,
  type KeyShare,
  keyShareCodec,
  list,
  type PrivateKey,
  privateKeyFromHex,
  protocolOf,
  scalarFromHex,
  toHex,
  u64,
} from '@allot/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from '../packages/node/src/network/index.js'
import { type RunningNode, runNode } from '../packages/node/src/run.js'
import { type DkgBroadcast, memorySealingStore, SealingService } from '../packages/node/src/sealing/index.js'
import { validatorGenesis } from './node-fixtures.js'

const keys: PrivateKey[] = [1, 2, 3, 4].map((i) => new Uint8Array(32).fill(0x60 + i))
const trader = (i: number) => privateKeyFromHex(`0x${(i + 0x91).toString(16).padStart(64, '0')}`)
/** The dealt first epoch is 1..16; DKG epochs are 12 heights: 17..28, 29..40. */
const FIRST_END = 16n
const EPOCH = 12
/** Windows of 3 heights; the DKG of an epoch starting at S runs S−12 .. S−1 (deal, complaint, answer, accusation). */
const sealing = { enabled: true, epochLength: EPOCH, dkgPhaseHeights: 3, dkgLeadHeights: 12 }

function genesis(): Genesis {
  return validatorGenesis('sealing-dkg-test', keys, sealing)
}

async function waitFor(
  cond: () => boolean | Promise<boolean>,
  ms: number,
  what: string | (() => string),
): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`)
}

describe('the validators DKG keys the next epochs on a 4-validator network, one dealer cheating', () => {
  const g = genesis()
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  const sorted = keys.map((k) => addressOf(k)).sort()
  /** Shamir index of each node (sorted-address order, run.ts). */
  const indexOf = (i: number) => sorted.indexOf(addressOf(keys[i])) + 1
  // The cheater is the node with Shamir index 2; its victim is index 4.
  const cheater = [0, 1, 2, 3].find((i) => indexOf(i) === 2) as number
  const honest = [0, 1, 2, 3].filter((i) => i !== cheater)
  const VICTIM = 4
  const sharesSeen: KeyShare[] = []
  let client: AllotClient

  beforeAll(async () => {
    const dealt = dealEpoch({
      startHeight: 1n,
      length: Number(FIRST_END),
      n: 4,
      t: 1,
      rng: deterministicRng('sealing-dkg-test'),
    })
    for (const k of keys) {
      const dir = mkdtempSync(join(tmpdir(), 'allot-dkg-'))
      dirs.push(dir)
      const r = await runNode({
        genesis: g,
        dataDir: dir,
        validatorKey: k,
        verifier: { threads: 1 },
        sealingEpoch: { public: dealt.public, shares: dealt.shares[sorted.indexOf(addressOf(k))] },
        unsealDeadlineMs: 10_000,
        chainView: { available: async () => 10n ** 24n, settledHeightAt: async () => 0n },
      })
      nodes.push(r)
      const s = r.sealing!
      const onShare = s.onShare.bind(s)
      s.onShare = (ks) => {
        sharesSeen.push(ks)
        return onShare(ks)
      }
    }
    // The cheating dealer: a bad share to validator 4 over the private link, and a bad one again in
    // the answer it seals to 4 — 4 opens it, accuses with the proof of its key, and every validator
    // checks the opened answer and disqualifies the dealer.
    const bump = (m: DkgMessage | DkgBroadcast): DkgMessage | DkgBroadcast => {
      if (m.type === 'shares' && m.to === VICTIM)
        return { ...m, shares: m.shares.map((x) => toHex(bumpScalar(x))) }
      if (m.type === 'answer' && m.to === VICTIM && 'sealed' in m)
        return { ...m, sealed: m.sealed.map((x) => toHex(bumpScalar(x))) }
      return m
    }
    nodes[cheater].dkg!.tamper = bump
    const dials: Promise<unknown>[] = []
    for (let i = 0; i < 4; i++)
      for (let j = i + 1; j < 4; j++)
        dials.push(nodes[i].node.host.dial(nodes[j].node.host.getMultiaddrs()[0]))
    await Promise.all(dials)
    client = await AllotClient.connect(nodes[honest[0]].node.apiAddrs()[0])
  }, 40_000)

  afterAll(async () => {
    await client?.close()
    await Promise.allSettled(nodes.map((n) => n.stop()))
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('the DKG of epoch 17..28 completes: the cheater is detected and excluded, every honest validator holds the same keys', async () => {
    await waitFor(
      () => honest.every((i) => nodes[i].dkg!.outcomes.some((o) => o.ok)),
      45_000,
      () =>
        `DKG of epoch 17: ${JSON.stringify(
          nodes.map((n) => ({ height: n.consensus?.height, outcomes: n.dkg?.outcomes })),
          (_, v) => (typeof v === 'bigint' ? String(v) : v),
        )}`,
    )
    const cheaterIndex = indexOf(cheater)
    for (const i of honest) {
      const o = nodes[i].dkg!.outcomes.find((x) => x.ok)!
      expect(o.startHeight).toBe(FIRST_END + 1n)
      expect(o.ok && o.qual).toEqual([1, 2, 3, 4].filter((x) => x !== cheaterIndex))
      expect(o.ok && o.disqualified).toEqual([
        { dealer: cheaterIndex, reason: `answer to ${VICTIM} fails the commitments` },
      ])
      expect(o.ok && o.keyed).toBe(true)
    }
    // The same PK_h on every honest validator, for every height of the epoch, before the epoch starts.
    for (let h = FIRST_END + 1n; h <= FIRST_END + BigInt(EPOCH); h++) {
      const pks = await Promise.all(honest.map(async (i) => toHex((await nodes[i].sealing!.batchKey(h))!)))
      expect(new Set(pks).size, `PK_${h}`).toBe(1)
    }
    expect(nodes[honest[0]].consensus!.height).toBeLessThanOrEqual(FIRST_END + 1n)
  }, 60_000)

  it('batches cross the boundary without a gap and a sealed order for a DKG-keyed batch opens after its decision', async () => {
    await waitFor(async () => (await client.info()).openBatch + 4n > FIRST_END, 30_000, 'the boundary')
    // A few batches ahead: consensus lagging behind the clock catches up back to back, so a target can
    // close while the pair is sealed — then both are sealed again for a later batch. A pair that its
    // batch left out ('expired': an inclusion matter of consensus, not of sealing) is tried again too.
    const transient = new Set(['pending', 'included', 'unknown'])
    // Between leaving the mempool and the batch's results an order may briefly be unknown to the API.
    const statusOf = (id: Hex) =>
      client.status(id).then(
        (x) => x.status as string,
        (e) => {
          if (isAllotError(e, 'ORDER_NOT_FOUND')) return 'unknown'
          throw e
        },
      )
    const side = (sell: 'TKA' | 'TKB', buy: 'TKA' | 'TKB', batch: bigint, nonce: bigint) => ({
      sell,
      sellAmount: 1000n,
      buy,
      buyAmount: 900n,
      batch,
      nonce,
      partiallyFillable: true,
    })
    let h = 0n
    let sa: Awaited<ReturnType<typeof client.status>> | undefined
    let sb: typeof sa
    for (let attempt = 1n; !sa || sa.status === 'expired'; attempt++) {
      if (attempt > 4n) break
      h = (await client.info()).openBatch + 4n
      expect(h).toBeGreaterThan(FIRST_END)
      // Before its decision nobody holds sk_h: no share of h has been released.
      expect(sharesSeen.some((s) => s.height === h)).toBe(false)
      let a: { orderId: Hex }
      let b: { orderId: Hex }
      try {
        a = await client.submitOrder(side('TKA', 'TKB', h, attempt), trader(0))
        b = await client.submitOrder(side('TKB', 'TKA', h, attempt), trader(1))
      } catch (e) {
        if (!isAllotError(e, 'ORDER_TARGET_CLOSED')) throw e
        continue
      }
      await waitFor(
        async () => !transient.has(await statusOf(a.orderId)) && !transient.has(await statusOf(b.orderId)),
        30_000,
        `orders of batch ${h} final`,
      )
      sa = await client.status(a.orderId)
      sb = await client.status(b.orderId)
    }
    if (!sa || !sb) throw new Error('no pair submitted')
    expect(sa.batch).toBe(h)
    expect([sa.status, sb.status]).toEqual(['filled', 'filled'])
    expect(sa.filled?.sold).toBe(1000n)
    expect(sa.filled?.sold).toBe(sb.filled?.bought)
    // Honest validators released shares of the new epoch's batches, and they passed the Feldman check
    // against the DKG's commitments on every node (onShare accepted them).
    const released = sharesSeen.filter((s) => s.height === h)
    expect(new Set(released.map((s) => s.validator)).size).toBeGreaterThanOrEqual(2)
    // A node that missed them asks a peer for the released shares of h (the key-shares protocol):
    // the answer holds at least t+1 shares, each valid against the DKG's commitments.
    const asker = nodes[honest[0]].node
    const answer = await request(
      asker.host,
      nodes[honest[1]].node.host.peerId,
      protocolOf('keyshares', g.networkId),
      encode(u64, h),
      { deadlineMs: 5_000, maxResponseBytes: 1 << 20 },
    )
    expect(answer[0]).toBe(0)
    const served = decode(list(keyShareCodec, 256), answer.subarray(1))
    const fresh = new SealingService({ domain: domainOf(g), validators: sorted, store: memorySealingStore() })
    const epoch = (await nodes[honest[1]].sealing!.epochsHeld()).find(
      (e) => e.public.startHeight === FIRST_END + 1n,
    )!
    await fresh.addEpoch({ public: epoch.public, shares: null })
    expect(served.filter((ks) => fresh.onShare(ks).accepted).length).toBeGreaterThanOrEqual(2)
    expect(fresh.secretKey(h)).toBeDefined()
    // Every height across the boundary was decided (consensus does not skip heights) and keyed.
    for (const i of honest) {
      expect(nodes[i].consensus!.height).toBeGreaterThan(h)
      for (let x = FIRST_END - 2n; x <= h; x++) expect(await nodes[i].sealing!.batchKey(x)).toBeDefined()
    }
  }, 60_000)

  it('the next roll-over follows: the DKG of epoch 29..40 completes before 29 (the cheater excluded again)', async () => {
    const next = FIRST_END + BigInt(EPOCH) + 1n
    await waitFor(
      () => honest.every((i) => nodes[i].dkg!.outcomes.some((o) => o.ok && o.startHeight === next)),
      45_000,
      'DKG of epoch 29',
    )
    for (const i of honest) {
      expect(nodes[i].consensus!.height).toBeLessThanOrEqual(next)
      expect(await nodes[i].sealing!.batchKey(next)).toBeDefined()
      const o = nodes[i].dkg!.outcomes.find((x) => x.ok && x.startHeight === next)
      expect(o?.ok && o.qual).not.toContain(indexOf(cheater))
    }
  }, 60_000)
})

function bumpScalar(x: Hex): Uint8Array {
  const v = scalarFromHex(x) + 1n
  return Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'))
}
