// The differential replay of issue 20: one decided chain fed to several batch pipelines, each with its own
// timing — certificates early, late and shuffled, shares (the opener) and envelopes not there at the first
// attempt, crashes at random points with a restart from the same store — and every pipeline must attest the
// same result at every height, finalize the same batches and end with the same remainders and statuses.
// The chain voids some batches, so remainders also get fills back.
// No socket and no chain: a chain view that is a pure function of chainRef, level in a temporary folder.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Address,
  addressOf,
  type BatchContent,
  encodeSealedOrder,
  type Hex,
  type Order,
  orderDigest,
  orderIdOf,
  type PrivateKey,
  payloadHashOf,
  privateKeyFromHex,
  type SealedOrder,
  sealedOrderDigest,
  signDigest,
  signOrder,
  toHex,
} from '@allot/protocol'
import { pino } from 'pino'
import { BatchPipeline, plainOpener } from '../../../src/batch/index.js'
import type { BatchOpener } from '../../../src/batch/unseal.js'
import { domainOf, type Genesis, parseGenesis } from '../../../src/config/index.js'
import { Prng } from '../../../src/consensus/sim/prng.js'
import { Mempool } from '../../../src/mempool/index.js'
import { NodeStorage } from '../../../src/storage/index.js'

const genesis: Genesis = parseGenesis({
  networkId: 'replay',
  chainId: '31337',
  settlement: '0x5e77000000000000000000000000000000000001',
  genesisTime: 0,
  validators: [],
  batchIntervalMs: 1000,
  intakeCutoffMs: 100,
  inclusionGraceMs: 500,
  bond: { token: 'TKA', minBond: '1', invalidOrderFee: '5', allowance: '1000' },
  feeBps: 10,
  maxOrdersPerBatch: 100,
  maxFillsPerBatch: 100,
  perTraderMaxOrdersPerBatch: 100,
  assets: [
    { symbol: 'TKA', kind: 'token', address: '0x00000000000000000000000000000000000000aa', decimals: 18 },
    { symbol: 'TKB', kind: 'token', address: '0x00000000000000000000000000000000000000bb', decimals: 18 },
    { symbol: 'CPU', kind: 'resource', class: 'cpu.vcore-hour', decimals: 0 },
  ],
  sealing: { enabled: false },
})
const domain = domainOf(genesis)
const [A, B, CPU] = genesis.assets.map((a) => a.id)
const keys: PrivateKey[] = Array.from({ length: 8 }, (_, i) =>
  privateKeyFromHex(`0x${(0x900 + i).toString(16).padStart(64, '0')}`),
)
const traders = keys.map((k) => addressOf(k).toLowerCase())
const PROPOSER = traders[0] as Address
const POOL_PER_HEIGHT = 6
const CHAIN_LAG = 10n

/** Escrow as of block `chainRef`: traders 0–5 funded, 6 only after a deposit at block 60, 7 never. */
function available(trader: Address, asset: Hex, chainRef: bigint): bigint {
  const i = traders.indexOf(trader.toLowerCase())
  if (asset !== A && asset !== B) return 0n
  if (i >= 0 && i <= 5) return 5_000n + BigInt(i) * 700n
  if (i === 6) return chainRef >= 60n ? 3_000n : 0n
  return 0n
}
/** The contract settles in steps, a few blocks behind: always below the height whose chainRef this is. */
const settledHeightAt = (c: bigint): bigint => (c < 20n ? 0n : ((c - 14n) / 6n) * 6n)
/** Every 23rd height is voided on chain (an escape happened before its chainRef), 4 blocks after its own. */
const voidBlock = (h: bigint): bigint | undefined => (h % 23n === 0n ? h + CHAIN_LAG + 4n : undefined)
function voidedBetween(from: bigint, to: bigint): bigint[] {
  const out: bigint[] = []
  for (let h = from - CHAIN_LAG - 4n; h <= to - CHAIN_LAG - 4n; h++) {
    const b = h > 0n ? voidBlock(h) : undefined
    if (b !== undefined && b >= from && b <= to) out.push(h)
  }
  return out
}
const WITHDRAWALS = [40n, 95n, 150n, 230n]
function withdrawalAwaitingSettlement(c: bigint): bigint | null {
  const r = [...WITHDRAWALS].reverse().find((w) => w <= c)
  if (r === undefined) return null
  return settledHeightAt(c) + CHAIN_LAG < r ? r : null
}

export interface DecidedChain {
  contents: BatchContent[]
  envelopes: Map<Hex, Uint8Array>
  /** On-chain invalidations by digest: the block. */
  invalidations: Map<Hex, bigint>
}

/** Signed orders for every height (signing is the slow part: built once, then seeds pick from it). */
export function orderPool(heights: number): { byHeight: Hex[][]; chain: Omit<DecidedChain, 'contents'> } {
  const rng = new Prng(0x5eed)
  const envelopes = new Map<Hex, Uint8Array>()
  const invalidations = new Map<Hex, bigint>()
  const byHeight: Hex[][] = [[]]
  let nonce = 1n
  for (let hh = 1; hh <= heights; hh++) {
    const h = BigInt(hh)
    const ids: Hex[] = []
    for (let j = 0; j < POOL_PER_HEIGHT; j++) {
      const k = rng.int(0, keys.length - 1)
      const shape = rng.pick(['sellAB', 'sellBA', 'buyAB', 'buyBA', 'cpuSell', 'cpuBuy'] as const)
      const size = BigInt(rng.int(50, 900))
      const ratio = BigInt(rng.int(85, 115))
      const units = BigInt(rng.int(1, 4))
      const unitPrice = BigInt(rng.int(40, 160))
      const base = {
        sellAB: {
          sellAsset: A,
          buyAsset: B,
          sellAmount: size,
          buyAmount: (size * ratio) / 100n,
          kind: 'sell',
        },
        sellBA: {
          sellAsset: B,
          buyAsset: A,
          sellAmount: size,
          buyAmount: (size * ratio) / 100n,
          kind: 'sell',
        },
        buyAB: { sellAsset: A, buyAsset: B, sellAmount: (size * ratio) / 100n, buyAmount: size, kind: 'buy' },
        buyBA: { sellAsset: B, buyAsset: A, sellAmount: (size * ratio) / 100n, buyAmount: size, kind: 'buy' },
        cpuSell: {
          sellAsset: CPU,
          buyAsset: A,
          sellAmount: units,
          buyAmount: units * unitPrice,
          kind: 'sell',
        },
        cpuBuy: { sellAsset: A, buyAsset: CPU, sellAmount: units * unitPrice, buyAmount: units, kind: 'buy' },
      }[shape] as Pick<Order, 'sellAsset' | 'buyAsset' | 'sellAmount' | 'buyAmount' | 'kind'>
      const order: Order = {
        trader: traders[k] as Address,
        ...base,
        partiallyFillable: !rng.chance(0.2),
        // A few sealed for the wrong batch: rejected, and their trader penalised.
        firstBatch: rng.chance(0.03) ? h + 1n : h,
        lastBatch: h + (rng.chance(0.4) ? BigInt(rng.int(1, 6)) : 0n),
        nonce: nonce++,
        app: `0x${'00'.repeat(32)}`,
      }
      if (order.lastBatch < order.firstBatch) order.lastBatch = order.firstBatch
      const sealed = seal(order, keys[k], h)
      const id = orderIdOf(sealed)
      envelopes.set(id, encodeSealedOrder(sealed))
      ids.push(id)
      // Some multi-batch orders their traders invalidate on chain a little after they first rest.
      if (order.lastBatch > order.firstBatch + 1n && rng.chance(0.15))
        invalidations.set(toHex(orderDigest(domain, order)), h + CHAIN_LAG + 2n)
    }
    byHeight.push(ids)
  }
  return { byHeight, chain: { envelopes, invalidations } }
}

/** A plain envelope for batch `h` (sealPlain takes the batch from the order; a bad order names another). */
function seal(order: Order, key: PrivateKey, h: bigint): SealedOrder {
  const payload = { kind: 'plain' as const, order: { order, signature: signOrder(domain, order, key) } }
  const digest = sealedOrderDigest(domain, {
    trader: order.trader,
    batch: h,
    payloadHash: payloadHashOf({ payload }),
    nonce: order.nonce,
  })
  return { trader: order.trader, batch: h, nonce: order.nonce, payload, signature: signDigest(digest, key) }
}

/** One decided chain of a seed: a random part of each height's pool, sorted as proposals are. */
export function decidedChain(
  pool: ReturnType<typeof orderPool>,
  seed: number,
  heights: number,
): DecidedChain {
  const rng = new Prng(seed)
  const contents: BatchContent[] = []
  for (let hh = 1; hh <= heights; hh++) {
    const h = BigInt(hh)
    const ids = pool.byHeight[hh].filter(() => rng.chance(0.55)).sort()
    contents.push({
      height: h,
      parentHash: `0x${'00'.repeat(32)}`,
      timestamp: h * 1000n,
      chainRef: h + CHAIN_LAG,
      orderIds: ids,
    })
  }
  return { contents, ...pool.chain }
}

export interface Timing {
  /** Chance that a certificate due is delivered at a step (else it waits; shuffled when delivered). */
  certChance: number
  /** Chance that the opener fails an attempt ("not t+1 shares yet") and that a peer has no envelopes yet. */
  failChance: number
  /** Chance of a crash and restart at a step. */
  crashChance: number
  /** Chance that a decision is not awaited before the next one is delivered. */
  pileChance: number
}
export const CALM: Timing = { certChance: 1, failChance: 0, crashChance: 0, pileChance: 0 }

/** What one pipeline did: its attested hash per height, and its final store, for comparison. */
export interface Run {
  attested: Map<bigint, Hex>
  /** Heights where it attested two different hashes (never allowed). */
  conflicts: bigint[]
  alarms: bigint[]
  finalized: Map<bigint, Hex>
  resting: string
  statuses: string
  crashes: number
}

/**
 * Feeds `chain` to one pipeline as consensus would (content stored, then `decided`), certificates of `ref`
 * (height → certified hash; none in the reference run, which certifies its own results at once).
 */
export async function runPipeline(
  chain: DecidedChain,
  seed: number,
  timing: Timing,
  ref?: Map<bigint, Hex>,
): Promise<Run> {
  const rng = new Prng(seed)
  const dir = mkdtempSync(join(tmpdir(), 'allot-replay-'))
  const attested = new Map<bigint, Hex>()
  const conflicts: bigint[] = []
  const alarms: bigint[] = []
  const opener: BatchOpener = {
    async open(h, orders) {
      // Shares arrive a moment later than the decision (another turn of the event loop, or a timer's).
      if (rng.chance(0.1)) await new Promise((r) => setTimeout(r, 1))
      else await new Promise((r) => setImmediate(r))
      if (orders.length > 0 && rng.chance(timing.failChance)) throw new Error('not t+1 shares yet')
      // Every inner signature here is the trader's own (signed above): as the sealing opener does after its
      // native recovery, it is marked checked, and the run spends its time on what it tests.
      const out = await plainOpener.open(h, orders)
      return { ...out, opened: out.opened.map((o) => ({ ...o, signatureChecked: true })) }
    },
  }
  let storage = await NodeStorage.open(join(dir, 'db'))
  const open = async (): Promise<BatchPipeline> => {
    const p = new BatchPipeline({
      genesis,
      domain,
      storage,
      mempool: new Mempool(storage),
      chain: {
        available: async (t, a, c) => available(t, a, c),
        settledHeightAt: async (c) => settledHeightAt(c),
        withdrawalAwaitingSettlement: async (c) => withdrawalAwaitingSettlement(c),
        voidedBetween: async (from, to) => voidedBetween(from, to),
        invalidatedAt: async (orders, c) =>
          orders.map((o) => {
            const at = chain.invalidations.get(o.digest) ?? 0n
            return at <= c ? at : 0n
          }),
      },
      attest: async (h, hash) => {
        const prev = attested.get(h)
        if (prev !== undefined && prev !== hash) conflicts.push(h)
        attested.set(h, hash)
      },
      onAlarm: (_kind, h) => alarms.push(h),
      opener,
      logger: pino({ level: process.env.REPLAY_LOG ?? 'silent' }),
      peers: {
        envelopes: async (ids) =>
          rng.chance(timing.failChance) ? [] : ids.flatMap((id) => chain.envelopes.get(id) ?? []),
        certificate: async () => undefined,
      },
      retryMs: 1,
    })
    await p.start()
    return p
  }
  let pipeline = await open()
  let crashes = 0
  const due: bigint[] = [] // heights decided whose certificate is not delivered yet
  const certify = async (h: bigint) => {
    const hash = ref?.get(h) ?? attested.get(h)
    if (!hash) return
    // As consensus does: the certificate is stored before the pipeline is told.
    const cert = { height: h, resultHash: hash, signatures: [] }
    await storage.certificates.put(h, cert)
    await pipeline.certified(cert)
  }
  const deliver = async (chance: number) => {
    rng.shuffle(due)
    for (let i = due.length - 1; i >= 0; i--) {
      if (!rng.chance(chance)) continue
      const [h] = due.splice(i, 1)
      await certify(h)
    }
  }
  for (const content of chain.contents) {
    await storage.batches.put(content.height, content)
    const done = pipeline.decided(content, PROPOSER).catch(() => {})
    if (!rng.chance(timing.pileChance)) await done
    due.push(content.height)
    if (ref) await deliver(timing.certChance)
    else {
      await done
      await deliver(1)
    }
    if (rng.chance(timing.crashChance)) {
      // A crash: the store closes under whatever the pipeline is doing; a new process opens it again.
      crashes++
      pipeline.stop()
      await storage.close()
      storage = await NodeStorage.open(join(dir, 'db'))
      pipeline = await open()
      await pipeline.resume()
    }
  }
  // Everything decided is processed in the end, and every certificate arrives.
  await pipeline.idle()
  await deliver(1)
  await pipeline.idle()
  const finalized = new Map<bigint, Hex>()
  for await (const [h, v] of storage.results.entries()) if (v.resultHash) finalized.set(h, v.resultHash)
  const resting: string[] = []
  for await (const [k, v] of storage.db
    .sublevel<string, Uint8Array>('resting', { valueEncoding: 'view' })
    .iterator())
    resting.push(`${k}=${toHex(v)}`)
  const statuses: string[] = []
  for await (const [id, s] of storage.orderStatus.entries())
    statuses.push(`${id} ${s.status} ${s.batch} ${s.filled?.sold}/${s.filled?.bought} ${s.error?.code ?? ''}`)
  pipeline.stop()
  await storage.close()
  rmSync(dir, { recursive: true, force: true })
  return {
    attested,
    conflicts,
    alarms,
    finalized,
    resting: resting.join('\n'),
    statuses: statuses.join('\n'),
    crashes,
  }
}

/** Differences of `run` from the reference, as readable lines (empty: identical). */
export function differences(ref: Run, run: Run, heights: number): string[] {
  const out: string[] = []
  for (let hh = 1; hh <= heights; hh++) {
    const h = BigInt(hh)
    if (run.attested.get(h) !== ref.attested.get(h))
      out.push(`height ${h}: attested ${run.attested.get(h)}, reference ${ref.attested.get(h)}`)
    if (run.finalized.get(h) !== ref.finalized.get(h))
      out.push(`height ${h}: finalized ${run.finalized.get(h)}, reference ${ref.finalized.get(h)}`)
  }
  for (const h of run.conflicts) out.push(`height ${h}: attested two different results`)
  for (const h of run.alarms) out.push(`height ${h}: result mismatch alarm`)
  if (run.resting !== ref.resting) out.push('resting remainders differ')
  if (run.statuses !== ref.statuses) {
    const mine = new Set(run.statuses.split('\n'))
    const theirs = new Set(ref.statuses.split('\n'))
    const only = [...mine].filter((x) => !theirs.has(x)).slice(0, 5)
    const missing = [...theirs].filter((x) => !mine.has(x)).slice(0, 5)
    out.push(`order statuses differ: here ${only.join('; ')} | reference ${missing.join('; ')}`)
  }
  return out
}

const HEIGHTS = 200
const SHUFFLED: Timing = { certChance: 0.3, failChance: 0.08, crashChance: 0, pileChance: 0.5 }
const CRASHING: Timing = { ...SHUFFLED, crashChance: 0.03 }
/** Seeds that share one decided chain (and its reference run). */
const SEEDS_PER_CHAIN = 4
/** Runs side by side: each waits on level much of the time. */
const CONCURRENT = 4
let sharedPool: ReturnType<typeof orderPool> | undefined

export interface SeedOutcome {
  seed: number
  ref: Run
  run: Run
  diff: string[]
}

/**
 * Seeds `first`…`first + count − 1`: the chain of seed s is that of ⌊s / 4⌋, its perturbed run seeded by s;
 * even seeds shuffle, odd ones also crash.
 */
export async function replaySeeds(first: number, count: number): Promise<SeedOutcome[]> {
  sharedPool ??= orderPool(HEIGHTS)
  const pool = sharedPool
  const refs = new Map<number, Promise<{ chain: DecidedChain; ref: Run }>>()
  const refOf = (c: number) => {
    let r = refs.get(c)
    if (!r) {
      const chain = decidedChain(pool, c, HEIGHTS)
      r = runPipeline(chain, c, CALM).then((ref) => ({ chain, ref }))
      refs.set(c, r)
    }
    return r
  }
  const outcomes: SeedOutcome[] = []
  const seeds = Array.from({ length: count }, (_, i) => first + i)
  while (seeds.length > 0) {
    const batch = seeds.splice(0, CONCURRENT)
    const done = await Promise.all(
      batch.map(async (seed) => {
        const { chain, ref } = await refOf(Math.floor(seed / SEEDS_PER_CHAIN))
        const run = await runPipeline(chain, seed * 7 + 1, seed % 2 === 0 ? SHUFFLED : CRASHING, ref.attested)
        return { seed, ref, run, diff: differences(ref, run, HEIGHTS) }
      }),
    )
    outcomes.push(...done)
  }
  return outcomes
}
