import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Address,
  addressOf,
  type ClearingResult,
  privateKeyFromHex,
  tokenAssetId,
} from '@allot/protocol'
import { Command } from 'commander'
import { Level } from 'level'
import { createTestClient, http } from 'viem'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { registerFundsCommands } from '../../src/cli/commands/funds.js'
import type { BondReader, BalanceReader as MempoolBalanceReader } from '../../src/mempool/index.js'
import {
  ANVIL_DEFAULT_KEYS,
  type AnvilInstance,
  BatchSubmitter,
  ChainBalanceReader,
  type ChainClients,
  connectChain,
  deploySettlement,
  deployTestToken,
  depositToEscrow,
  type KeyValueStore,
  MemoryKeyValueStore,
  mintTestToken,
  readProgress,
  requestWithdrawal,
  type SettlementEvent,
  SettlementEventFollower,
  startAnvil,
} from '../../src/settlement/index.js'
import { certify, fillAt, makeOrder, result, signed } from './fixtures.js'

let anvil: AnvilInstance
let deployer: ChainClients
let trader: ChainClients
let counterparty: ChainClients
let settlement: Address
let tokenA: Address
let tokenB: Address
let fromBlock: bigint
const validatorKeys = [4, 5, 6, 7].map((i) => privateKeyFromHex(ANVIL_DEFAULT_KEYS[i]))
const validators = validatorKeys.map(addressOf)

const testClient = () => createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) })
const mine = (blocks: number) => testClient().mine({ blocks })
const head = () => deployer.publicClient.getBlockNumber({ cacheTime: 0 })

/** A certified batch at `height`: the trader sells 100 A to the counterparty for 100 B at 1:1. */
async function batch(
  height: bigint,
  prevHeight: bigint,
): Promise<{ result: ClearingResult; certificate: ReturnType<typeof certify> }> {
  const domain = { chainId: BigInt(anvil.chainId), verifyingContract: settlement }
  const [aId, bId] = [tokenAssetId(tokenA), tokenAssetId(tokenB)]
  const assets = aId < bId ? [aId, bId] : [bId, aId]
  const prices = [1n, 1n]
  const t = trader.account!.address.toLowerCase() as Address
  const cp = counterparty.account!.address.toLowerCase() as Address
  const o1 = signed(
    domain,
    makeOrder({
      trader: t,
      sellAsset: aId,
      buyAsset: bId,
      sellAmount: 100n,
      buyAmount: 100n,
      firstBatch: height,
      lastBatch: height,
    }),
    privateKeyFromHex(ANVIL_DEFAULT_KEYS[1]),
  )
  const o2 = signed(
    domain,
    makeOrder({
      trader: cp,
      sellAsset: bId,
      buyAsset: aId,
      sellAmount: 100n,
      buyAmount: 100n,
      firstBatch: height,
      lastBatch: height,
    }),
    privateKeyFromHex(ANVIL_DEFAULT_KEYS[2]),
  )
  const r = result({
    height,
    prevHeight,
    chainRef: (await head()) - 1n,
    assets,
    prices,
    fills: [fillAt(o1, 1n, 1n, 100n, 0n), fillAt(o2, 1n, 1n, 100n, 0n)],
  })
  return { result: r, certificate: certify(domain, r, validatorKeys.slice(0, 3)) }
}

beforeAll(async () => {
  anvil = await startAnvil()
  deployer = await connectChain({
    rpcUrl: anvil.rpcUrl,
    privateKey: ANVIL_DEFAULT_KEYS[0],
    pollingIntervalMs: 20,
  })
  trader = await connectChain({
    rpcUrl: anvil.rpcUrl,
    privateKey: ANVIL_DEFAULT_KEYS[1],
    pollingIntervalMs: 20,
  })
  counterparty = await connectChain({
    rpcUrl: anvil.rpcUrl,
    privateKey: ANVIL_DEFAULT_KEYS[2],
    pollingIntervalMs: 20,
  })
  tokenA = await deployTestToken(deployer, { name: 'A', symbol: 'TKA' })
  tokenB = await deployTestToken(deployer, { name: 'B', symbol: 'TKB' })
  settlement = await deploySettlement(deployer, {
    validators,
    quorum: 3,
    feeBps: 0,
    escapeBlocks: 1000,
    bondToken: tokenA,
    invalidOrderFee: 0n,
    feeAccount: addressOf(privateKeyFromHex(ANVIL_DEFAULT_KEYS[9])),
  })
  fromBlock = await head()
  for (const c of [trader, counterparty]) {
    for (const t of [tokenA, tokenB]) await mintTestToken(deployer, t, c.account!.address, 1_000_000n)
  }
}, 60_000)

afterAll(async () => {
  await anvil?.stop()
})

describe('settlement adapter', () => {
  it('reads balances, pending withdrawals and the bond at a chainRef', async () => {
    const reader = new ChainBalanceReader({
      clients: deployer,
      settlement,
      confirmations: 2,
      bondToken: tokenA,
      minBond: 100n,
    })
    const me = trader.account!.address
    const a = tokenAssetId(tokenA)
    const before = await head()
    await depositToEscrow(trader, settlement, tokenA, 1000n)
    // Not yet at the confirmation depth: the reader's chainRef does not see it.
    const ref0 = await reader.chainRef()
    expect(await reader.escrowBalance(me, a, ref0)).toBe(0n)
    expect(await reader.hasBond(me, ref0)).toBe(false)
    await mine(2)
    const ref1 = await reader.chainRef()
    expect(ref1).toBeGreaterThan(before)
    expect(await reader.escrowBalance(me, a, ref1)).toBe(1000n)
    await requestWithdrawal(trader, settlement, tokenA, 950n)
    await mine(2)
    const ref2 = await reader.chainRef()
    expect(await reader.pendingWithdrawal(me, a, ref2)).toBe(950n)
    expect(await reader.availableBalance(me, a, ref2)).toBe(50n)
    expect(await reader.hasBond(me, ref2)).toBe(false)
    // Historical reads stay as they were.
    expect(await reader.availableBalance(me, a, ref1)).toBe(1000n)
    expect(await reader.hasBond(me, ref1)).toBe(true)
    // The mempool's shapes, at the current chainRef (checked by the compiler too).
    const asMempool: [BondReader, MempoolBalanceReader] = [reader, reader]
    expect(asMempool).toHaveLength(2)
    expect(await reader.bondOf(me)).toBe(50n)
    const all = await reader.balancesOf(me)
    expect(all).toEqual([{ asset: a, escrow: 1000n, available: 50n, pendingWithdrawal: 950n }])
    // Resource classes are not escrowed.
    expect(await reader.escrowBalance(me, `0x01${'ab'.repeat(31)}`, ref2)).toBe(0n)
  })

  it('follows events from a persisted cursor across a restart, delivering each once', async () => {
    // The cursor lives in a level db that is closed and reopened, as across a node restart.
    const dir = mkdtempSync(join(tmpdir(), 'allot-follower-'))
    let db = new Level<string, string>(dir)
    const store: KeyValueStore = { get: (k) => db.get(k), put: (k, v) => db.put(k, v) }
    const seen: SettlementEvent[] = []
    const make = () =>
      new SettlementEventFollower({
        clients: deployer,
        settlement,
        store,
        confirmations: 2,
        fromBlock,
        onEvents: (es) => {
          seen.push(...es)
        },
      })
    const first = make()
    await mine(2)
    await first.poll()
    // The first test's deposit and request.
    expect(seen.map((e) => e.kind)).toEqual(['deposit', 'withdrawalRequested'])
    await first.stop()
    await db.close()
    // While "down": more events.
    await depositToEscrow(counterparty, settlement, tokenB, 500n)
    await mine(2)
    db = new Level<string, string>(dir)
    const second = make()
    second.start()
    await expect.poll(() => seen.length, { timeout: 5000 }).toBe(3)
    await second.stop()
    expect(seen[2]).toMatchObject({
      kind: 'deposit',
      account: counterparty.account!.address.toLowerCase(),
      amount: 500n,
    })
    // Running again delivers nothing new.
    expect(await make().poll()).toBe(0)
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('survives a reorg within the confirmation depth, and reports a deeper one', async () => {
    const store = new MemoryKeyValueStore()
    const seen: SettlementEvent[] = []
    const reorgs: bigint[] = []
    const follower = new SettlementEventFollower({
      clients: deployer,
      settlement,
      store,
      confirmations: 3,
      fromBlock,
      onEvents: (es) => {
        seen.push(...es)
      },
      onDeepReorg: (c) => {
        reorgs.push(c.block)
      },
    })
    await mine(3)
    await follower.poll()
    const base = seen.length
    const snap = await testClient().snapshot()
    await depositToEscrow(trader, settlement, tokenB, 111n) // approve + deposit: 2 blocks, unconfirmed
    await follower.poll()
    expect(seen.length).toBe(base)
    // The chain reorganises: the 111 deposit never happened; a 222 deposit did.
    await testClient().revert({ id: snap })
    await mine(1)
    const snap2 = await testClient().snapshot()
    await depositToEscrow(trader, settlement, tokenB, 222n)
    await mine(3)
    await follower.poll()
    const fresh = seen.slice(base)
    expect(fresh.map((e) => (e.kind === 'deposit' ? e.amount : -1n))).toEqual([222n])
    expect(reorgs).toEqual([])
    // A reorg deeper than the depth: the block under the cursor changes.
    const cursor = (await follower.cursor())!
    await testClient().revert({ id: snap2 })
    await mine(Number(cursor.block - (await head()) + 5n))
    await follower.poll()
    expect(reorgs).toEqual([cursor.block])
  })

  it('submits certified batches: proposer first, others after a timeout, already-settled recognised', async () => {
    await depositToEscrow(trader, settlement, tokenA, 10_000n)
    await depositToEscrow(counterparty, settlement, tokenB, 10_000n)
    const clientsOf = (i: number) =>
      connectChain({ rpcUrl: anvil.rpcUrl, privateKey: ANVIL_DEFAULT_KEYS[4 + i], pollingIntervalMs: 20 })
    const proposer = new BatchSubmitter({ clients: await clientsOf(0), settlement, takeoverMs: 400 })
    const backup = new BatchSubmitter({ clients: await clientsOf(1), settlement, takeoverMs: 400 })

    // The proposer submits at once; the backup, waiting out its timeout, sees it settled and sends nothing.
    const b1 = await batch(1n, 0n)
    const backupNonce = await deployer.publicClient.getTransactionCount({ address: validators[1] })
    const [p1, k1] = await Promise.all([
      proposer.submit([b1], validators[0]),
      backup.submit([b1], validators[0]),
    ])
    expect(p1.status).toBe('settled')
    expect(k1.status).toBe('already-settled')
    expect(await deployer.publicClient.getTransactionCount({ address: validators[1] })).toBe(backupNonce)

    // A silent proposer: the backup takes over after the timeout.
    const b2 = await batch(2n, 1n)
    const started = Date.now()
    const k2 = await backup.submit([b2], validators[0])
    expect(k2.status).toBe('settled')
    expect(Date.now() - started).toBeGreaterThanOrEqual(400)
    expect((await readProgress(deployer, settlement)).lastHeight).toBe(2n)

    // Resubmitting a settled batch sends nothing.
    expect((await proposer.submit([b2], validators[0])).status).toBe('already-settled')
    // A batch the contract refuses is not retried: it surfaces as SETTLE_REVERTED.
    const bad = await batch(3n, 1n)
    await expect(proposer.submit([bad], validators[0])).rejects.toMatchObject({ code: 'SETTLE_REVERTED' })
  })

  it('retries RPC errors with backoff', async () => {
    // A proxy in front of anvil that fails the first requests with HTTP 503.
    let failures = 4
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c) => chunks.push(c))
      req.on('end', () => {
        if (failures-- > 0) {
          res.writeHead(503).end('unavailable')
          return
        }
        const up = httpRequest(
          anvil.rpcUrl,
          { method: 'POST', headers: { 'content-type': 'application/json' } },
          (r) => {
            res.writeHead(r.statusCode ?? 500, { 'content-type': 'application/json' })
            r.pipe(res)
          },
        )
        up.end(Buffer.concat(chunks))
      })
    })
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r))
    try {
      const addr = proxy.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      const clients = await connectChain({
        rpcUrl: `http://127.0.0.1:${port}`,
        chainId: anvil.chainId,
        privateKey: ANVIL_DEFAULT_KEYS[5],
        pollingIntervalMs: 20,
      })
      const s = new BatchSubmitter({ clients, settlement, takeoverMs: 0, backoffMs: 20 })
      const p = await readProgress(deployer, settlement)
      // Nothing to send (height already settled), but the progress read must get through the failures.
      const out = await s.submit(
        [
          {
            result: result({ height: p.lastHeight, assets: [], prices: [], fills: [] }),
            certificate: { height: p.lastHeight, resultHash: '0x00', signatures: [] },
          },
        ],
        validators[1],
      )
      expect(out.status).toBe('already-settled')
      expect(failures).toBeLessThan(0)
    } finally {
      proxy.close()
    }
  })

  it('CLI: allot deposit, withdraw request, withdraw claim (refused until a batch saw the request)', async () => {
    const cli = async (...args: string[]) => {
      const program = new Command().exitOverride()
      registerFundsCommands(program)
      const out: string[] = []
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        out.push(String(chunk))
        return true
      })
      try {
        await program.parseAsync(args, { from: 'user' })
      } finally {
        spy.mockRestore()
      }
      return JSON.parse(out.join('')) as Record<string, string>
    }
    const flags = [
      '--token',
      tokenA,
      '--key',
      ANVIL_DEFAULT_KEYS[1],
      '--rpc-url',
      anvil.rpcUrl,
      '--settlement',
      settlement,
      '--json',
    ]
    const me = trader.account!.address
    const d = await cli('deposit', '--amount', '5000', ...flags)
    expect(d).toMatchObject({ address: me.toLowerCase(), amount: '5000' })
    // The first test left 950 requested: requests add up.
    const r = await cli('withdraw', 'request', '--amount', '3000', ...flags)
    expect(r.pendingWithdrawal).toBe('3950')
    await expect(cli('withdraw', 'claim', ...flags)).rejects.toMatchObject({
      code: 'SETTLE_REVERTED',
      details: { revert: 'WithdrawalNotClaimable' },
    })
    // A batch whose chainRef is at or after the request's block (batch() reads at head − 1).
    await mine(1)
    const p = await readProgress(deployer, settlement)
    const b = await batch(p.lastHeight + 1n, p.lastHeight)
    const s = new BatchSubmitter({ clients: deployer, settlement, takeoverMs: 0 })
    expect((await s.submit([b], validators[0])).status).toBe('settled')
    const c = await cli('withdraw', 'claim', ...flags)
    expect(c.amount).toBe('3950')
    await expect(cli('deposit', '--amount', '0', ...flags)).rejects.toMatchObject({
      code: 'ORDER_BAD_AMOUNT',
    })
  })
})
