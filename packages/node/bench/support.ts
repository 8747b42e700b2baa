// Shared by the node benchmarks: fast signing (libsecp256k1), a node in a child process, percentiles.
import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import {
  addressOf,
  batchPublicKey,
  dealEpoch,
  deterministicRng,
  type Hex,
  type NetworkDomain,
  type Order,
  orderDigest,
  type PrivateKey,
  payloadHashOf,
  privateKeyFromHex,
  type SealedOrder,
  type Signature,
  sealedOrderDigest,
  sealOrder,
  toHex,
} from '@allot/protocol'
import { fastSealPrimitives } from '../src/crypto/index.js'

const require = createRequire(import.meta.url)
const native = require('secp256k1') as {
  ecdsaSign(msg: Uint8Array, key: Uint8Array): { signature: Uint8Array; recid: number }
}

function signFast(digest: Uint8Array, key: PrivateKey): Signature {
  const { signature, recid } = native.ecdsaSign(digest, key)
  return { r: toHex(signature.subarray(0, 32)), s: toHex(signature.subarray(32, 64)), v: 27 + recid }
}

export const TKA = '0x00000000000000000000000000000000000000aa'
export const TKB = '0x00000000000000000000000000000000000000bb'

export function benchGenesis(networkId: string): Record<string, unknown> {
  return {
    networkId,
    chainId: '31337',
    settlement: '0x5e77000000000000000000000000000000000001',
    genesisTime: Date.now() - 1000,
    validators: [],
    batchIntervalMs: 3_600_000,
    intakeCutoffMs: 1000,
    bond: { token: 'TKA', minBond: '1', allowance: '10' },
    maxOrdersPerBatch: 100_000,
    maxFillsPerBatch: 10_000,
    perTraderMaxOrdersPerBatch: 1_000_000,
    assets: [
      { symbol: 'TKA', kind: 'token', address: TKA, decimals: 18 },
      { symbol: 'TKB', kind: 'token', address: TKB, decimals: 18 },
    ],
  }
}

export const benchDomain: NetworkDomain = {
  chainId: 31337n,
  verifyingContract: '0x5e77000000000000000000000000000000000001',
}

/** Trader keys of a bench seed, and n distinct orders for batch 1 spread over them. */
function benchOrders(n: number, traders: number, seed: number): { key: PrivateKey; order: Order }[] {
  const keys = Array.from({ length: traders }, (_, i) =>
    privateKeyFromHex(`0x${(seed * 1000 + i + 1).toString(16).padStart(64, '0')}`),
  )
  const addrs = keys.map((k) => addressOf(k))
  return Array.from({ length: n }, (_, i) => ({
    key: keys[i % traders],
    order: {
      trader: addrs[i % traders],
      sellAsset: `0x${'0'.repeat(24)}${TKA.slice(2)}` as Hex,
      buyAsset: `0x${'0'.repeat(24)}${TKB.slice(2)}` as Hex,
      sellAmount: 1000n + BigInt(i),
      buyAmount: 900n,
      kind: 'sell',
      partiallyFillable: true,
      firstBatch: 1n,
      lastBatch: 1n,
      nonce: BigInt(seed) * 10_000_000n + BigInt(i),
      app: `0x${'0'.repeat(64)}`,
    },
  }))
}

/** n distinct plain-payload orders for batch 1 from `traders` keys, signed with libsecp256k1. */
export function makeOrders(n: number, traders = 16, seed = 1): SealedOrder[] {
  return benchOrders(n, traders, seed).map(({ key, order }) => {
    const payload = {
      kind: 'plain' as const,
      order: { order, signature: signFast(orderDigest(benchDomain, order), key) },
    }
    const signature = signFast(
      sealedOrderDigest(benchDomain, {
        trader: order.trader,
        batch: 1n,
        payloadHash: payloadHashOf({ payload }),
        nonce: order.nonce,
      }),
      key,
    )
    return { trader: order.trader, batch: 1n, nonce: order.nonce, payload, signature }
  })
}

/**
 * n distinct **sealed** orders for batch 1 from `traders` keys — what a network carries (genesis
 * sealing on): each inner order signed, encrypted to PK_1 of a dealt epoch, the envelope signed.
 * Deterministic for a seed (keys, ephemeral scalars, amounts).
 */
export function makeSealedOrders(n: number, traders = 16, seed = 1): SealedOrder[] {
  const rng = deterministicRng(`bench-sealed-${seed}`)
  const epoch = dealEpoch({ startHeight: 1n, length: 4, n: 4, t: 1, rng })
  const batchKey = batchPublicKey(epoch.public, 1n)
  return benchOrders(n, traders, seed).map(({ key, order }) =>
    sealOrder({
      domain: benchDomain,
      signedOrder: { order, signature: signFast(orderDigest(benchDomain, order), key) },
      batchPublicKey: batchKey,
      traderKey: key,
      nonce: order.nonce,
      primitives: fastSealPrimitives,
      rng,
    }),
  )
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

type Reply = Record<string, unknown> & { id: number }

/** A node in its own process, driven over IPC (bench/node-process.ts). */
export class NodeProcess {
  private nextId = 1
  private readonly waiting = new Map<number, (r: Reply) => void>()
  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: Reply) => {
      this.waiting.get(m.id)?.(m)
      this.waiting.delete(m.id)
    })
  }
  static spawn(args: Record<string, unknown>, execArgv: string[] = []): NodeProcess {
    const child = spawn(
      process.execPath,
      [
        ...execArgv,
        '--conditions=allot-source',
        '--import',
        'tsx',
        join(import.meta.dirname, 'node-process.ts'),
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, BENCH_ARGS: JSON.stringify(args) },
      },
    )
    return new NodeProcess(child)
  }
  call<T = Reply>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> {
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${cmd} timed out`)), timeoutMs)
      this.waiting.set(id, (r) => {
        clearTimeout(t)
        if (r.error) reject(new Error(String(r.error)))
        else resolve(r as T)
      })
      this.child.send({ id, cmd, ...args })
    })
  }
  async kill(): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.child.kill('SIGTERM')
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  }
}
