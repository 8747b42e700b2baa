// An in-memory network of validators running the DKG (sealing/dkg.ts) with a model of consensus: at
// each height the round-0 proposer (validators[h mod n], as consensus/tendermint.ts proposerOf)
// references the DKG broadcasts it holds (`proposalRefs`), and every validator processes the decided
// height with those refs, fetching the ones it lacks from the others (`fetchRefs`). Gossip delivery and
// private links are under the test's control. Real signatures, real curve arithmetic.
import {
  type Address,
  addressOf,
  type DkgMessage,
  dealEpoch,
  deterministicRng,
  type Hex,
  type NetworkDomain,
  randomScalar,
  scalarToBytes,
} from '@allot/protocol'
import {
  type DkgBroadcast,
  type DkgSchedule,
  EpochDkg,
  memorySealingStore,
  nativeDkgOps,
  openBroadcast,
  SealingService,
} from '../../../src/sealing/index.js'

export const domain: NetworkDomain = {
  chainId: 31337n,
  verifyingContract: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
}
const rng = deterministicRng('sealing-dkg')
const keys = [0, 1, 2, 3].map(() => scalarToBytes(randomScalar(rng)))
// Shamir index order: sorted addresses (run.ts).
const order = keys.map((k) => ({ k, a: addressOf(k) })).sort((x, y) => (x.a < y.a ? -1 : 1))
export const sortedKeys = order.map((x) => x.k)
export const validators: Address[] = order.map((x) => x.a)
export const first = dealEpoch({ startHeight: 1n, length: 10, n: 4, t: 1, rng })
/** Epoch 1..10 dealt; DKG epochs of 8 heights, windows of 2: the DKG of 11.. runs at 3..10. */
export const schedule: DkgSchedule = { epochLength: 8, phaseHeights: 2, leadHeights: 8 }

const tick = () => new Promise((r) => setImmediate(r))

export interface Member {
  index: number
  svc: SealingService
  dkg: EpochDkg
}

export interface DkgNetOptions {
  /** Heights a broadcast sent while deciding h takes to reach `to` (0: before the proposal of h + 1). */
  delay?: (from: number, to: number, m: DkgBroadcast, height: bigint) => number
  /** Validator i's direct links are down: no private shares reach it or leave it. */
  cut?: (i: number) => boolean
  /** The proposer of height h (default validators[h mod 4]); it may also rewrite its refs. */
  refs?: (h: bigint, proposed: Hex[], proposer: number) => Hex[]
  /** Default: `schedule`. */
  schedule?: DkgSchedule
  /** Whether a (re)started validator finds the decided heights in its store (default: yes). */
  storage?: boolean
}

export async function dkgNetwork(o: DkgNetOptions = {}) {
  const members: Member[] = []
  /** Every broadcast sent (public data), and every private share dealt (as dealt, before any tamper). */
  const published: { from: number; bytes: Uint8Array; m: DkgBroadcast }[] = []
  const dealt: { dealer: number; to: number; shares: Hex[] }[] = []
  const queue: { at: bigint; to: number; bytes: Uint8Array }[] = []
  /** Refs of every decided height. */
  const decided = new Map<bigint, Hex[]>()
  let height = 0n
  const makeDkg = (i: number, svc: SealingService): EpochDkg =>
    new EpochDkg({
      domain,
      validators,
      validatorKey: sortedKeys[i - 1],
      schedule: o.schedule ?? schedule,
      service: svc,
      rng: deterministicRng(`dkg-${i}`),
      // libsecp256k1 as in run.ts (equal to noble: dkg-fast.test.ts); noble when the addon is missing.
      ops: nativeDkgOps,
      decidedRefsAt: async (h) => (o.storage === false ? undefined : decided.get(h)),
      transport: {
        peerId: () => `peer-${i}`,
        broadcast: async (bytes) => {
          const m = openBroadcast(domain, bytes, validators).message
          published.push({ from: i, bytes, m })
          for (let j = 1; j <= 4; j++)
            if (j !== i)
              queue.push({ at: height + 1n + BigInt(o.delay?.(i, j, m, height) ?? 0), to: j, bytes })
        },
        requestShares: async (req) =>
          o.cut?.(i)
            ? []
            : members
                .filter((m) => m.index !== i && !o.cut?.(m.index))
                .map((m) => m.dkg.serveShares(req, `peer-${i}`))
                .filter((x): x is Uint8Array => x !== null),
        // Broadcasts are public: any peer that holds one serves it (relayed over gossip peers too).
        fetchRefs: async (refs) => members.filter((m) => m.index !== i).flatMap((m) => m.dkg.serveRefs(refs)),
      },
    })
  for (let i = 1; i <= 4; i++) {
    const svc = new SealingService({
      domain,
      validators,
      store: memorySealingStore(),
      validatorKey: sortedKeys[i - 1],
    })
    await svc.start()
    await svc.addEpoch({ public: first.public, shares: first.shares[i - 1] })
    const dkg = makeDkg(i, svc)
    svc.attachEpochGenerator(dkg)
    members.push({ index: i, svc, dkg })
  }
  /** Records what each dealer deals privately, then applies `rewrite` (a cheating dealer) if given. */
  const tamper = (
    i: number,
    rewrite?: (m: DkgMessage | DkgBroadcast) => DkgMessage | DkgBroadcast | null,
  ) => {
    members[i - 1].dkg.tamper = (m) => {
      if (m.type === 'shares') dealt.push({ dealer: m.dealer, to: m.to, shares: m.shares })
      return rewrite ? rewrite(m) : m
    }
  }
  for (let i = 1; i <= 4; i++) tamper(i)
  const deliver = (upTo: bigint) => {
    for (const q of queue.filter((x) => x.at <= upTo)) {
      queue.splice(queue.indexOf(q), 1)
      try {
        members[q.to - 1].dkg.onBroadcast(q.bytes)
      } catch {}
    }
  }
  /** Decides heights from..to: the proposer's refs, then every validator not in `skip` processes the height. */
  const decide = async (from: bigint, to: bigint, skip: number[] = [], viaService = false) => {
    for (let h = from; h <= to; h++) {
      height = h
      deliver(h)
      const proposer = Number(h % 4n) + 1
      const proposed = members[proposer - 1].dkg.proposalRefs(h)
      const refs = o.refs ? o.refs(h, proposed, proposer) : proposed
      decided.set(h, refs)
      for (const m of members) {
        if (skip.includes(m.index)) continue
        // Through SealingService.onDecided (which also releases this validator's key share; a validator
        // without a share of h cannot release one) or straight to the DKG.
        if (viaService) await m.svc.onDecided(h, refs).catch(() => undefined)
        await m.dkg.onHeight(viaService ? 0n : h, refs)
      }
      for (let k = 0; k < 5; k++) await tick()
    }
  }
  /** Validator i restarts: a new EpochDkg over the same (persisted) sealing service; its session state is lost. */
  const restart = (i: number) => {
    const m = members[i - 1]
    m.dkg.stop()
    m.dkg = makeDkg(i, m.svc)
    m.svc.attachEpochGenerator(m.dkg)
    tamper(i)
  }
  /** A validator that lagged behind consensus processes the decided heights it skipped, in order. */
  const catchUp = async (i: number, from: bigint, to: bigint) => {
    for (let h = from; h <= to; h++) {
      await members[i - 1].dkg.onHeight(h, decided.get(h) ?? [])
      for (let k = 0; k < 5; k++) await tick()
    }
  }
  return { members, published, dealt, decided, decide, catchUp, tamper, deliver, restart }
}

/** The stored epoch starting at `start` of a member (what a restart reads). */
export async function storedEpoch(m: Member, start: bigint) {
  return (await m.svc.epochsHeld()).find((e) => e.public.startHeight === start)
}
