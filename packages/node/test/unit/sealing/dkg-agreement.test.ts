// Agreement on QUAL under partial delivery at a phase boundary, and secrecy of every honest
// validator's epoch shares (issue 24). Four validators in memory with real signatures and real
// curve arithmetic; one validator's direct links are cut during the deal phase, and one dealer's deal
// reaches some validators before their deal deadline and another after it.
import {
  type Address,
  addressOf,
  dealEpoch,
  deterministicRng,
  type NetworkDomain,
  randomScalar,
  scalarToBytes,
} from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import {
  type DkgSchedule,
  EpochDkg,
  memorySealingStore,
  nativeDkgOps,
  SealingService,
} from '../../../src/sealing/index.js'

const domain: NetworkDomain = {
  chainId: 31337n,
  verifyingContract: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
}
const rng = deterministicRng('sealing-dkg-agreement')
const keys = [0, 1, 2, 3].map(() => scalarToBytes(randomScalar(rng)))
const order = keys.map((k) => ({ k, a: addressOf(k) })).sort((x, y) => (x.a < y.a ? -1 : 1))
const sortedKeys = order.map((x) => x.k)
const validators: Address[] = order.map((x) => x.a)
const first = dealEpoch({ startHeight: 1n, length: 10, n: 4, t: 1, rng })
const schedule: DkgSchedule = { epochLength: 8, phaseHeights: 2, leadHeights: 6 }
/** The DKG of the epoch 11..18 begins at 11 − lead. */
const BEGIN = 11n - BigInt(schedule.leadHeights)

const tick = () => new Promise((r) => setImmediate(r))
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

interface Member {
  index: number
  svc: SealingService
  dkg: EpochDkg
}

/**
 * Delivery: `delay(from, to, bytes)` is how many heights a broadcast takes from `from` to `to`
 * (0 = before the recipient's next decided height); `cut(i)`: validator i's direct links are down
 * (no private shares reach it). Every broadcast is recorded (public data); so is every private
 * share dealt (for the secrecy check).
 */
async function network(o: {
  delay?: (from: number, to: number, bytes: Uint8Array) => number
  cut?: (i: number) => boolean
}) {
  const members: Member[] = []
  const published: Uint8Array[] = []
  const dealt: { dealer: number; to: number; shares: string[] }[] = []
  const queue: { at: bigint; to: number; bytes: Uint8Array }[] = []
  let height = 0n
  for (let i = 1; i <= 4; i++) {
    const svc = new SealingService({
      domain,
      validators,
      store: memorySealingStore(),
      validatorKey: sortedKeys[i - 1],
    })
    await svc.start()
    await svc.addEpoch({ public: first.public, shares: first.shares[i - 1] })
    const dkg: EpochDkg = new EpochDkg({
      domain,
      validators,
      validatorKey: sortedKeys[i - 1],
      schedule,
      service: svc,
      rng: deterministicRng(`dkg-agreement-${i}`),
      ops: nativeDkgOps,
      transport: {
        peerId: () => `peer-${i}`,
        broadcast: async (bytes) => {
          published.push(bytes)
          for (let j = 1; j <= 4; j++)
            if (j !== i) queue.push({ at: height + BigInt(o.delay?.(i, j, bytes) ?? 0), to: j, bytes })
        },
        requestShares: async (req) =>
          o.cut?.(i)
            ? []
            : members
                .filter((m) => m.index !== i && !o.cut?.(m.index))
                .map((m) => m.dkg.serveShares(req, `peer-${i}`))
                .filter((x): x is Uint8Array => x !== null),
      },
    })
    // Records what each dealer deals privately, untouched.
    dkg.tamper = (m) => {
      if (m.type === 'shares') dealt.push({ dealer: m.dealer, to: m.to, shares: m.shares })
      return m
    }
    svc.attachEpochGenerator(dkg)
    members.push({ index: i, svc, dkg })
  }
  const deliver = (upTo: bigint) => {
    for (const q of queue.filter((x) => x.at <= upTo)) {
      queue.splice(queue.indexOf(q), 1)
      try {
        members[q.to - 1].dkg.onBroadcast(q.bytes)
      } catch {}
    }
  }
  /** Every member decides heights from..to (the DKG's clock), broadcasts delivered as scheduled. */
  const decide = async (from: bigint, to: bigint, cutUntil?: bigint) => {
    for (let h = from; h <= to; h++) {
      height = h
      deliver(h - 1n)
      for (const m of members) void m.dkg.onHeight(h)
      for (let k = 0; k < 5; k++) await tick()
      for (const m of members) await m.dkg.onHeight(0n)
      deliver(h - 1n)
      if (cutUntil !== undefined && h >= cutUntil) o.cut = undefined
    }
    deliver(to + 100n)
  }
  return { members, published, dealt, decide }
}

/**
 * The drill: validator 3's direct links are down through the deal phase (it gets no private share),
 * and dealer 4's deal reaches 1 and 2 at once but 3 only after 3's deal deadline (BEGIN + phase).
 */
async function drill() {
  const deal4 = { bytes: null as Uint8Array | null }
  const late = (from: number, to: number, bytes: Uint8Array) => {
    if (from === 4 && deal4.bytes === null) deal4.bytes = bytes
    return from === 4 && to === 3 && bytes === deal4.bytes ? schedule.phaseHeights : 0
  }
  const net = await network({ delay: late, cut: (i) => i === 3 })
  await net.decide(1n, 11n, BEGIN + BigInt(schedule.phaseHeights))
  const outcomes = net.members.map((m) => m.dkg.outcomes.find((x) => x.startHeight === 11n))
  const epochs = await Promise.all(
    net.members.map(async (m) => (await m.svc.epochsHeld()).find((e) => e.public.startHeight === 11n)),
  )
  return { net, outcomes, epochs }
}

describe('DKG drill: links cut in the deal phase, a deal at the boundary (n = 4, t = 1)', () => {
  it('every honest validator computes the same QUAL and the same epoch public part', async () => {
    const { outcomes, epochs } = await drill()
    for (const x of outcomes) expect(x?.ok).toBe(true)
    const quals = outcomes.map((x) => (x?.ok ? x.qual : []))
    for (const q of quals) expect(q).toEqual(quals[0])
    for (const e of epochs) expect(e?.public).toEqual(epochs[0]?.public)
  })

  it('no epoch share, and no share any dealer dealt, appears in any public message', async () => {
    const { net, epochs } = await drill()
    const pub = net.published.map(hex).join('|')
    for (const d of net.dealt)
      for (const s of d.shares) expect(pub.includes(s.slice(2)), `share ${d.dealer}→${d.to}`).toBe(false)
    for (const e of epochs) for (const s of e?.shares ?? []) expect(pub.includes(s.slice(2))).toBe(false)
  })
})
