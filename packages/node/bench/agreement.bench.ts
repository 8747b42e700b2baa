/**
 * Agreement on real validator processes (issue #6): n = 4 and n = 7 validators, each its own process
 * (bench/validator-process.ts: `runNode` with consensus, sealing, the batch pipeline; a stub chain
 * view), on loopback. Sealed orders are preloaded (through gossip) for 3 batches of N = 100 (every 3rd
 * height) then 3 of 1,000 (every 9th), so that one loaded batch's work ends before the next is proposed;
 * an observer on the gossip mesh timestamps every proposal and certificate. Figure: p50/p99 of the time from a
 * batch's proposal (its timestamp, the proposer's clock; one machine, one clock) to its certificate (the
 * 2f+1-th matching result attestation reaching the observer).
 *
 * Ceiling, measured in the same run: 3 loopback gossip delays (one hop between these processes, p50 of
 * pings) + the batch's own work — unsealing N orders (ECDH + AES-GCM), their inner signatures, solving —
 * timed here on one core, times n validators, over the cores they share.
 *
 * BENCH_VALIDATORS=4,7 BENCH_ORDERS=100,1000 BENCH_BATCHES=3 narrow or widen a run.
 */
import '@allot/protocol/polyfill'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  addressOf,
  batchCommitments,
  batchPublicKey,
  dealEpoch,
  deterministicRng,
  encode,
  encodeSealedOrder,
  type Hex,
  type NetworkDomain,
  type Order,
  orderDigest,
  orderIdOf,
  type PrivateKey,
  padPlaintext,
  payloadHashOf,
  privateKeyFromHex,
  recoverBatchSecretKey,
  SEAL_IV,
  SEAL_KDF_SALT,
  type SealedOrder,
  type Signature,
  type SignedOrder,
  scalarFromHex,
  sealAad,
  sealedOrderDigest,
  signedOrderCodec,
  toHex,
  tokenAssetId,
  unsealBatch,
} from '@allot/protocol'
import { clearBatch, type SolverOrder } from '@allot/solver'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ConsensusObserver } from '../../../test/support/consensus-observer.js'
import { domainOf, loadOrCreatePeerKey, parseGenesis } from '../src/config/index.js'
import { fastSealPrimitives, recoverAddressFast } from '../src/crypto/index.js'
import { freePorts } from '../src/devnet/index.js'
import { topicOf } from '../src/network/index.js'

const require = createRequire(import.meta.url)
const native = require('secp256k1') as {
  ecdsaSign(msg: Uint8Array, key: Uint8Array): { signature: Uint8Array; recid: number }
  privateKeyVerify(key: Uint8Array): boolean
  publicKeyCreate(key: Uint8Array, compressed: boolean): Uint8Array
}
const PING_TOPIC = '/allot/bench/ping/1'
const VALIDATORS = (process.env.BENCH_VALIDATORS ?? '4,7').split(',').map(Number)
const SIZES = (process.env.BENCH_ORDERS ?? '100,1000').split(',').map(Number)
const BATCHES = Number(process.env.BENCH_BATCHES ?? 3)
const GAP = 3n
const FIRST_LOADED = 20n
const TRADERS = 20
const TKA = '0x00000000000000000000000000000000000000aa'
const TKB = '0x00000000000000000000000000000000000000bb'
const CORES = cpus().length
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
// A connection torn down mid-handshake (validators stopping) surfaces as an uncaught libp2p error.
process.on('uncaughtException', (e) => console.error(`(ignored: ${e.name}: ${e.message})`))

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

function signFast(digest: Uint8Array, key: PrivateKey): Signature {
  const { signature, recid } = native.ecdsaSign(digest, key)
  return { r: toHex(signature.subarray(0, 32)), s: toHex(signature.subarray(32, 64)), v: 27 + recid }
}

async function until<T>(what: string, ms: number, f: () => T | undefined | false): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = f()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

class Validator {
  private next = 1
  private readonly waiting = new Map<number, (m: Record<string, unknown>) => void>()
  readonly ready: Promise<void>
  constructor(readonly child: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`validator exited with ${code}`)))
      child.on('message', (m: Record<string, unknown> & { id: number }) => {
        if (m.ready) resolve()
        this.waiting.get(m.id)?.(m)
        this.waiting.delete(m.id)
      })
    })
  }
  call(cmd: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.next++
    return new Promise((resolve) => {
      this.waiting.set(id, resolve)
      this.child.send({ id, cmd, ...args })
    })
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.child.kill('SIGTERM')
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  }
}

interface Phase {
  size: number
  latencies: number[]
  full: number
  workMs: { unseal: number; solve: number }
}

async function run(n: number): Promise<void> {
  const keys = Array.from({ length: n }, (_, i) =>
    privateKeyFromHex(`0x${(0xa11 + i).toString(16).padStart(64, '0')}`),
  )
  const dirs = keys.map(() => mkdtempSync(join(tmpdir(), 'allot-bench-v-')))
  const peerIds = await Promise.all(
    dirs.map(async (d) => peerIdFromPrivateKey(await loadOrCreatePeerKey(d)).toString()),
  )
  const ports = await freePorts(n)
  const addr = (i: number) => `/ip4/127.0.0.1/tcp/${ports[i]}/p2p/${peerIds[i]}`
  const batchMs = 1000
  const genesisJson = {
    networkId: `bench-agree-${n}`,
    chainId: '31337',
    settlement: '0x5e77000000000000000000000000000000000001',
    genesisTime: Date.now() + 3000,
    validators: keys.map((k, i) => ({ address: addressOf(k), peerId: peerIds[i], multiaddr: addr(i) })),
    batchIntervalMs: batchMs,
    intakeCutoffMs: 200,
    inclusionGraceMs: 1000,
    timeouts: { proposeMs: 3000, prevoteMs: 1000, precommitMs: 1000, deltaMs: 500, capMs: 10_000 },
    bond: { token: 'TKA', minBond: '1', invalidOrderFee: '1', allowance: (10n ** 30n).toString() },
    feeBps: 0,
    maxOrdersPerBatch: 10_000,
    maxFillsPerBatch: 10_000,
    perTraderMaxOrdersPerBatch: 10_000,
    assets: [
      { symbol: 'TKA', kind: 'token', address: TKA, decimals: 18 },
      { symbol: 'TKB', kind: 'token', address: TKB, decimals: 18 },
    ],
    sealing: { enabled: true },
  }
  const g = parseGenesis(genesisJson)
  const domain: NetworkDomain = domainOf(g)
  const epochSeed = `agree-bench-${n}`
  const epochLength = 400
  const t = Math.floor((n - 1) / 3)
  const dealt = dealEpoch({ startHeight: 1n, length: epochLength, n, t, rng: deterministicRng(epochSeed) })
  const validators: Validator[] = []
  const observer = new ConsensusObserver(g)
  const phases: Phase[] = []
  const pings: number[] = []
  const empty: number[] = []
  /**
   * sealOrder (protocol/sealing/ecies.ts) with libsecp256k1 for the ephemeral key and the envelope signature,
   * so that preparing the orders does not take longer than the run. Checked: every order opens (batchWork).
   */
  function sealFast(
    h: bigint,
    pk: Uint8Array,
    signedOrder: SignedOrder,
    key: PrivateKey,
    nonce: bigint,
  ): SealedOrder {
    const trader = signedOrder.order.trader
    let r: Uint8Array
    do r = randomBytes(32)
    while (!native.privateKeyVerify(r))
    const R = native.publicKeyCreate(r, true)
    const info = new Uint8Array(32 + 20 + 8)
    const view = new DataView(info.buffer)
    view.setBigUint64(24, domain.chainId)
    info.set(Buffer.from(domain.verifyingContract.slice(2), 'hex'), 32)
    view.setBigUint64(52, h)
    const shared = fastSealPrimitives.ecdh(r, pk)
    const salted = new Uint8Array(info.length + R.length)
    salted.set(info)
    salted.set(R, info.length)
    const aesKey = fastSealPrimitives.hkdfSha256(shared.subarray(1), SEAL_KDF_SALT, salted, 32)
    const plaintext = padPlaintext(encode(signedOrderCodec, signedOrder))
    const ciphertext = fastSealPrimitives.aesGcmEncrypt(
      aesKey,
      SEAL_IV,
      sealAad(domain, h, trader),
      plaintext,
    )
    const payload = { kind: 'sealed' as const, ephemeralKey: toHex(R), ciphertext: toHex(ciphertext) }
    const digest = sealedOrderDigest(domain, {
      trader,
      batch: h,
      payloadHash: payloadHashOf({ payload }),
      nonce,
    })
    return { trader, batch: h, nonce, payload, signature: signFast(digest, key) }
  }

  function sealBatch(h: bigint, size: number): SealedOrder[] {
    const pk = Buffer.from(batchPublicKey(dealt.public, h).slice(2), 'hex')
    const out: SealedOrder[] = []
    for (let i = 0; i < size; i++) {
      const key = traders[i % TRADERS]
      const trader = traderAddrs[i % TRADERS]
      const sell = i % 2 === 0
      const order: Order = {
        trader,
        sellAsset: tokenAssetId(sell ? TKA : TKB),
        buyAsset: tokenAssetId(sell ? TKB : TKA),
        sellAmount: 1000n + BigInt(i),
        buyAmount: 900n,
        kind: 'sell',
        partiallyFillable: true,
        firstBatch: h,
        lastBatch: h,
        nonce,
        app: `0x${'0'.repeat(64)}`,
      }
      const signedOrder = { order, signature: signFast(orderDigest(domain, order), key) }
      out.push(sealFast(h, pk, signedOrder, key, nonce))
      nonce++
    }
    return out
  }

  function batchWork(h: bigint, orders: SealedOrder[]): { unseal: number; solve: number } {
    const shares = Array.from({ length: t + 1 }, (_, i) => ({
      index: i + 1,
      value: scalarFromHex(dealt.shares[i][Number(h - 1n)]),
    }))
    const { secretKey } = recoverBatchSecretKey(batchCommitments(dealt.public, h), shares)
    const items = orders.map((o) => ({ orderId: orderIdOf(o) as Hex, sealed: o }))
    const u0 = performance.now()
    const opened = unsealBatch(domain, h, items, secretKey, {
      primitives: fastSealPrimitives,
      recover: recoverAddressFast,
    })
    const u1 = performance.now()
    const solverOrders: SolverOrder[] = []
    const balances: Record<string, Record<string, bigint>> = {}
    for (const u of opened) {
      if (!u.result.ok) throw new Error(`bench order did not open: ${u.result.reason}`)
      const o = u.result.order.order
      solverOrders.push({
        id: u.orderId,
        trader: o.trader,
        sellAsset: o.sellAsset,
        buyAsset: o.buyAsset,
        sellAmount: o.sellAmount,
        buyAmount: o.buyAmount,
        kind: o.kind,
        partiallyFillable: o.partiallyFillable,
        signed: u.result.order,
      })
      balances[o.trader] ??= {}
      balances[o.trader][o.sellAsset] = 10n ** 30n
    }
    const s0 = performance.now()
    clearBatch({
      orders: solverOrders,
      balances,
      params: { numeraire: tokenAssetId(TKA), maxFillsPerBatch: 10_000, height: h },
    })
    return { unseal: u1 - u0, solve: performance.now() - s0 }
  }
  const traders = Array.from({ length: TRADERS }, (_, i) =>
    privateKeyFromHex(`0x${(0xb00 + i).toString(16).padStart(64, '0')}`),
  )
  const traderAddrs = traders.map((k) => addressOf(k))
  let nonce = 1n
  // Sealed before the validators start (the client's work is not what is measured): BATCHES batches per
  // size, every GAP-th height, so that each loaded batch's work is done before the next one is proposed
  // (latency, not queueing). All targets stay within the 64 batches intake accepts ahead of the open one.
  const plan: { size: number; batches: { h: bigint; orders: SealedOrder[] }[] }[] = []
  let h = FIRST_LOADED
  const sealStart = performance.now()
  for (const size of SIZES) {
    const batches: { h: bigint; orders: SealedOrder[] }[] = []
    // Wider gaps for big batches: their work must be done before the next loaded one (else it queues).
    const gap = size >= 1000 ? 3n * GAP : GAP
    for (let k = 0; k < BATCHES; k++, h += gap) batches.push({ h, orders: sealBatch(h, size) })
    plan.push({ size, batches })
  }
  console.log(
    `n=${n}: sealed ${plan.reduce((a, p) => a + p.size * p.batches.length, 0)} orders for heights ` +
      `${FIRST_LOADED}..${plan[plan.length - 1].batches[BATCHES - 1].h} in ${(performance.now() - sealStart).toFixed(0)} ms`,
  )
  try {
    const started = Date.now()
    for (let i = 0; i < n; i++) {
      const child = spawn(
        process.execPath,
        [
          // BENCH_PROF=<dir>: a CPU profile of validator 0, written when it stops.
          ...(process.env.BENCH_PROF && i === 0
            ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`]
            : []),
          '--conditions=allot-source',
          '--import',
          'tsx',
          join(import.meta.dirname, 'validator-process.ts'),
        ],
        {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          env: {
            ...process.env,
            BENCH_ARGS: JSON.stringify({
              genesis: genesisJson,
              dataDir: dirs[i],
              key: toHex(keys[i]),
              listen: `/ip4/127.0.0.1/tcp/${ports[i]}`,
              bootstrap: keys
                .map((_, j) => j)
                .filter((j) => j !== i)
                .map(addr),
              epochSeed,
              epochLength,
            }),
          },
        },
      )
      validators.push(new Validator(child))
    }
    await Promise.all(validators.map((v) => v.ready))
    await observer.start(keys.map((_, i) => addr(i)))
    await until('consensus running', 60_000, () => observer.topCertified() >= 2n)
    console.log(`n=${n}: ${n} validator processes up and certifying in ${Date.now() - started} ms`)

    // One loopback gossip hop between these processes, under the same load: pings from the observer.
    for (let k = 0; k < 40; k++) {
      const b = new Uint8Array(16)
      new DataView(b.buffer).setFloat64(0, performance.timeOrigin + performance.now())
      new DataView(b.buffer).setFloat64(8, k)
      await observer.publish(PING_TOPIC, b).catch(() => 0)
      await sleep(25)
    }
    await sleep(300)
    for (const v of validators) pings.push(...((await v.call('pings')).pings as number[]))

    // Every order out at once, through the observer's gossip (as another node would forward them).
    const ordersTopic = topicOf(g.networkId, 'orders')
    let published = 0
    for (const p of plan) {
      for (const b of p.batches) {
        for (const o of b.orders) {
          const bytes = encodeSealedOrder(o)
          const data = new Uint8Array(bytes.length + 1)
          data.set(bytes, 1)
          await observer.publish(ordersTopic, data).catch(() => 0)
          if (++published % 64 === 0) await sleep(1)
        }
      }
    }
    console.log(`n=${n}: ${published} orders published by height ${observer.topDecided()}`)
    // Every validator holds every order before the first loaded batch is proposed (else its batch is not full).
    const heights = plan.flatMap((p) => p.batches.map((b) => String(b.h)))
    const expected = plan.flatMap((p) => p.batches.map(() => p.size))
    const t0 = Date.now()
    let lacking: string[] = []
    do {
      await sleep(500)
      if (process.env.BENCH_TRACE) {
        for (const [i, v] of validators.entries()) {
          const held = (await v.call('held', { heights })).held as number[]
          console.log(
            `  +${Date.now() - t0} ms at height ${observer.topDecided()}: validator ${i} holds ${held.join(' ')}`,
          )
        }
      }
      lacking = []
      for (const [i, v] of validators.entries()) {
        const held = (await v.call('held', { heights })).held as number[]
        const short = held
          .map((x, k) => (x < expected[k] ? `${heights[k]}: ${x}/${expected[k]}` : ''))
          .filter(Boolean)
        if (short.length > 0) lacking.push(`validator ${i} lacks orders at height ${short.join(', ')}`)
      }
    } while (lacking.length > 0 && Date.now() - t0 < 30_000)
    console.log(
      lacking.length > 0
        ? `  ${lacking.join('\n  ')}`
        : `n=${n}: every validator holds every order ${Date.now() - t0} ms after publishing, at height ${observer.topDecided()}`,
    )
    const last = plan[plan.length - 1].batches[BATCHES - 1].h
    // Bounded: a run that cannot certify them all in time reports what it certified.
    await until(`batch ${last} certified`, 240_000, () => observer.certifiedAt.has(last)).catch((e) =>
      console.log(`  ${(e as Error).message} (certified up to ${observer.topCertified()})`),
    )
    for (const p of plan) {
      const latencies: number[] = []
      for (const b of p.batches) {
        const l = latencyOf(b.h)
        if (l && l.orders === p.size) latencies.push(l.ms)
        console.log(
          `  batch ${b.h}: ${l ? `${l.orders} orders, proposal→certificate ${l.ms} ms` : 'not certified'}`,
        )
      }
      phases.push({ size: p.size, latencies, full: latencies.length, workMs: { unseal: 0, solve: 0 } })
    }

    // Empty batches before the first loaded one (after the first two): the reference the orders add to.
    for (let h = 3n; h < FIRST_LOADED; h++) {
      const l = latencyOf(h)
      if (l && l.orders === 0) empty.push(l.ms)
    }

    function latencyOf(h: bigint): { ms: number; orders: number } | undefined {
      const v = observer.decidedValue(h)
      const p = v ? observer.proposed.get(v) : undefined
      const c = observer.certifiedAt.get(h)
      return p && c ? { ms: c - Number(p.timestamp), orders: p.orders } : undefined
    }
  } finally {
    await observer.stop().catch(() => {})
    await Promise.all(validators.map((v) => v.stop().catch(() => {})))
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }

  // The batch's own work, on one core, once the validators have stopped (median of 3 runs).
  for (const [k, p] of plan.entries()) {
    const runs = [0, 1, 2].map(() => batchWork(p.batches[0].h, p.batches[0].orders))
    runs.sort((x, y) => x.unseal + x.solve - (y.unseal + y.solve))
    if (phases[k]) phases[k].workMs = runs[1]
  }
  const delay = pct(pings, 50)
  if (empty.length > 0) {
    console.log(
      `n=${n}, empty batches (${empty.length}): proposal→certificate p50 ${pct(empty, 50).toFixed(0)} ms, p99 ${pct(empty, 99).toFixed(0)} ms` +
        ` | ceiling ${(3 * delay).toFixed(1)} ms = 3 × ${delay.toFixed(1)} ms gossip hop (p50 of ${pings.length})`,
    )
  }
  for (const p of phases) {
    const work = p.workMs.unseal + p.workMs.solve
    const shared = (work * n) / CORES
    const ceiling = 3 * delay + shared
    if (p.latencies.length === 0) {
      console.log(`n=${n}, ${p.size} orders/batch: no full batch was certified`)
      continue
    }
    const p50 = pct(p.latencies, 50)
    console.log(
      `n=${n}, ${p.size} orders/batch (${p.full} full batches of ${BATCHES}): proposal→certificate p50 ${p50.toFixed(0)} ms, p99 ${pct(p.latencies, 99).toFixed(0)} ms` +
        ` | ceiling ${ceiling.toFixed(0)} ms = 3 × ${delay.toFixed(1)} ms gossip hop + ${n} × ${work.toFixed(0)} ms work` +
        ` (unseal + inner signatures ${p.workMs.unseal.toFixed(0)} ms, solve ${p.workMs.solve.toFixed(0)} ms, one core) / ${CORES} cores` +
        ` | ratio ${(p50 / ceiling).toFixed(2)}`,
    )
  }
}

for (const n of VALIDATORS) await run(n)
process.exit(0)
