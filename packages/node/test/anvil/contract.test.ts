import {
  type Address,
  addressOf,
  type ClearingResult,
  type NetworkDomain,
  type PrivateKey,
  priceRespectsLimit,
  privateKeyFromHex,
  tokenAssetId,
} from '@allot/protocol'
import { clearBatch, type SolverOrder } from '@allot/solver'
import fc from 'fast-check'
import { createTestClient, type Hex, http, parseEventLogs } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ANVIL_DEFAULT_KEYS,
  type AnvilInstance,
  type ChainClients,
  certifiedBatchArg,
  claimWithdrawal,
  escapeWithdraw,
  loadArtifact,
  readEscrow,
  readProgress,
  readTokenBalance,
  requestWithdrawal,
  revertName,
  settlementAbi,
} from '../../src/settlement/index.js'
import { certify, fillAt, fixedKey, makeOrder, penaltyOf, result, signed } from './fixtures.js'
import { startSettlementChain } from './harness.js'

const FEE_BPS = 10n
const ESCAPE_BLOCKS = 30
const INVALID_ORDER_FEE = 500n
const P_A = 2_000_000n // 1 A = 2 B
const P_B = 1_000_000n

let anvil: AnvilInstance
let deployer: ChainClients
let traders: ChainClients[]
let traderKeys: PrivateKey[]
let settlement: Address
let tokenA: Address
let tokenB: Address
let assets: [Hex, Hex]
let prices: [bigint, bigint]
let domain: NetworkDomain
const validatorKeys = [0, 1, 2, 3].map(fixedKey)
const feeAccount = addressOf(privateKeyFromHex(ANVIL_DEFAULT_KEYS[9]))
let lastHeight = 0n

function testClient() {
  return createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) })
}

async function chainRefNow(): Promise<bigint> {
  return (await deployer.publicClient.getBlockNumber({ cacheTime: 0 })) - 1n
}

/** Runs `settle` as a call; returns the custom error name, or 'ok'. */
async function trySettle(
  rs: { r: ClearingResult; signers?: PrivateKey[]; cert?: ReturnType<typeof certify> }[],
) {
  const args = rs.map(({ r, signers, cert }) =>
    certifiedBatchArg({
      result: r,
      certificate: cert ?? certify(domain, r, signers ?? validatorKeys.slice(0, 3)),
    }),
  )
  try {
    await deployer.publicClient.simulateContract({
      address: settlement,
      abi: settlementAbi(),
      functionName: 'settle',
      args: [args],
      account: deployer.account,
    })
    return 'ok'
  } catch (e) {
    return revertName(e) ?? `error: ${(e as Error).message.slice(0, 200)}`
  }
}

async function settle(rs: ClearingResult[]) {
  const args = rs.map((r) =>
    certifiedBatchArg({ result: r, certificate: certify(domain, r, validatorKeys.slice(0, 3)) }),
  )
  const hash = await deployer.walletClient!.writeContract({
    address: settlement,
    abi: settlementAbi(),
    functionName: 'settle',
    args: [args],
    account: deployer.account!,
  })
  const receipt = await deployer.publicClient.waitForTransactionReceipt({ hash })
  expect(receipt.status).toBe('success')
  lastHeight = rs[rs.length - 1].height
  return receipt
}

async function escrow(i: number, token: Address) {
  return (await readEscrow(deployer, settlement, traders[i].account!.address, token)).escrow
}

/** Trader 0 sells A for B (sell kind), trader 1 buys A with B (buy kind), `amount` of A at P_A:P_B. */
async function crossingBatch(
  height: bigint,
  amount: bigint,
  nonce: bigint,
  chainRef?: bigint,
): Promise<ClearingResult> {
  const t0 = traders[0].account!.address.toLowerCase() as Address
  const t1 = traders[1].account!.address.toLowerCase() as Address
  const aId = tokenAssetId(tokenA)
  const bId = tokenAssetId(tokenB)
  const o0 = signed(
    domain,
    makeOrder({
      trader: t0,
      sellAsset: aId,
      buyAsset: bId,
      sellAmount: amount * 2n,
      buyAmount: amount,
      firstBatch: height,
      lastBatch: height,
      nonce,
    }),
    traderKeys[0],
  )
  const o1 = signed(
    domain,
    makeOrder({
      trader: t1,
      sellAsset: bId,
      buyAsset: aId,
      sellAmount: amount * 3n,
      buyAmount: amount,
      kind: 'buy',
      firstBatch: height,
      lastBatch: height,
      nonce,
    }),
    traderKeys[1],
  )
  const f0 = fillAt(o0, pOf(aId), pOf(bId), amount, FEE_BPS)
  const f1 = fillAt(o1, pOf(bId), pOf(aId), amount, FEE_BPS)
  return result({
    height,
    prevHeight: lastHeight,
    chainRef: chainRef ?? (await chainRefNow()),
    assets,
    prices,
    fills: [f0, f1],
  })
}

function pOf(id: Hex): bigint {
  return id === assets[0] ? prices[0] : prices[1]
}

beforeAll(async () => {
  // The shared chain of the anvil tier (harness.ts): 3 traders with 5,000,000 of each token in escrow.
  const chain = await startSettlementChain({
    feeBps: FEE_BPS,
    escapeBlocks: ESCAPE_BLOCKS,
    invalidOrderFee: INVALID_ORDER_FEE,
    deposit: 5_000_000n,
  })
  ;({ anvil, deployer, traders, traderKeys, settlement, tokenA, tokenB, domain } = chain)
  const aId = tokenAssetId(tokenA)
  const bId = tokenAssetId(tokenB)
  assets = aId < bId ? [aId, bId] : [bId, aId]
  prices = aId < bId ? [P_A, P_B] : [P_B, P_A]
}, 60_000)

afterAll(async () => {
  await anvil?.stop()
})

describe('AllotSettlement against anvil', () => {
  it('has the EIP-712 domain of @allot/protocol', async () => {
    const { domainSeparator } = await import('@allot/protocol')
    const onChain = await deployer.publicClient.readContract({
      address: settlement,
      abi: settlementAbi(),
      functionName: 'DOMAIN_SEPARATOR',
    })
    expect(onChain).toBe(`0x${Buffer.from(domainSeparator(domain)).toString('hex')}`)
  })

  it('escrows deposits', async () => {
    expect(await escrow(0, tokenA)).toBe(5_000_000n)
    expect(await readTokenBalance(deployer, tokenA, settlement)).toBe(15_000_000n)
  })

  it('settles a certified batch: balances, fees, event, progress', async () => {
    const r = await crossingBatch(1n, 100_000n, 1n)
    const receipt = await settle([r])
    // trader 0 sold 100_000 A (+100 fee) for 200_000 B; trader 1 bought 100_000 A for 200_000 B (+200 fee).
    expect(await escrow(0, tokenA)).toBe(5_000_000n - 100_000n - 100n)
    expect(await escrow(0, tokenB)).toBe(5_000_000n + 200_000n)
    expect(await escrow(1, tokenA)).toBe(5_000_000n + 100_000n)
    expect(await escrow(1, tokenB)).toBe(5_000_000n - 200_000n - 200n)
    expect((await readEscrow(deployer, settlement, feeAccount, tokenA)).escrow).toBe(100n)
    expect((await readEscrow(deployer, settlement, feeAccount, tokenB)).escrow).toBe(200n)
    const events = parseEventLogs({ abi: settlementAbi(), logs: receipt.logs, eventName: 'BatchSettled' })
    expect(events).toHaveLength(1)
    expect((events[0].args as { height: bigint }).height).toBe(1n)
    const p = await readProgress(deployer, settlement)
    expect(p.lastHeight).toBe(1n)
    expect(p.lastChainRef).toBe(r.chainRef)
  })

  it('settles several batches in one transaction, in height order', async () => {
    const r2 = await crossingBatch(2n, 1000n, 2n)
    lastHeight = 2n
    const r4 = await crossingBatch(4n, 1000n, 4n)
    lastHeight = 1n
    await settle([r2, r4])
    expect((await readProgress(deployer, settlement)).lastHeight).toBe(4n)
  })

  it('refuses bad certificates', async () => {
    const r = await crossingBatch(5n, 1000n, 5n)
    expect(await trySettle([{ r }])).toBe('ok')
    // too few
    expect(await trySettle([{ r, signers: validatorKeys.slice(0, 2) }])).toBe('TooFewSignatures')
    // a non-validator signer
    expect(await trySettle([{ r, signers: [validatorKeys[0], validatorKeys[1], fixedKey(99)] }])).toBe(
      'NotValidator',
    )
    // duplicate signer
    const good = certify(domain, r, validatorKeys.slice(0, 3))
    const dup = { ...good, signatures: [good.signatures[0], good.signatures[0], good.signatures[1]] }
    expect(await trySettle([{ r, cert: dup }])).toBe('SignersNotAscending')
    // malleable s: s' = n − s, v flipped, recovers the same signer but must be refused
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
    const s0 = good.signatures[0].signature
    const high = {
      r: s0.r,
      s: `0x${(n - BigInt(s0.s)).toString(16).padStart(64, '0')}` as Hex,
      v: s0.v === 27 ? 28 : 27,
    }
    const mall = {
      ...good,
      signatures: [{ ...good.signatures[0], signature: high }, ...good.signatures.slice(1)],
    }
    expect(await trySettle([{ r, cert: mall }])).toBe('BadSignature')
    // signature over a different result (tampered payload after certification)
    const tampered = { ...r, fills: r.fills.map((f, i) => (i === 0 ? { ...f, bought: f.bought + 1n } : f)) }
    expect(await trySettle([{ r: tampered, cert: good }])).toBe('NotValidator')
    // bytes appended to the payload change the hash and break the canonical encoding
    const arg = certifiedBatchArg({ result: r, certificate: good })
    const junk = await deployer.publicClient
      .simulateContract({
        address: settlement,
        abi: settlementAbi(),
        functionName: 'settle',
        args: [[{ ...arg, payload: `${arg.payload}00` as Hex }]],
        account: deployer.account,
      })
      .then(() => 'ok')
      .catch((e) => revertName(e))
    expect(junk).toBe('MalformedPayload')
  })

  it('refuses wrong heights, replays and a decreasing chainRef', async () => {
    const r = await crossingBatch(5n, 1000n, 5n)
    expect(await trySettle([{ r: { ...r, prevHeight: 3n } }])).toBe('WrongHeight')
    const replay = await crossingBatch(4n, 1000n, 4n)
    expect(await trySettle([{ r: { ...replay, prevHeight: 1n } }])).toBe('WrongHeight')
    expect(await trySettle([{ r: { ...replay, prevHeight: 4n } }])).toBe('WrongHeight')
    expect(await trySettle([{ r: { ...r, chainRef: 0n } }])).toBe('ChainRefOutOfRange')
    expect(await trySettle([{ r: { ...r, chainRef: 10_000n } }])).toBe('ChainRefOutOfRange')
  })

  it('checks every fill against what its trader signed', async () => {
    const r = await crossingBatch(5n, 1000n, 5n)
    const f0 = r.fills[0]
    // limit: trader 0 asks 3 B per A; the batch pays 2
    const lowOrder = signed(
      domain,
      { ...f0.order.order, buyAmount: f0.order.order.sellAmount * 3n },
      traderKeys[0],
    )
    const beyondLimit = { ...r, fills: [{ ...f0, order: lowOrder }, r.fills[1]] }
    expect(await trySettle([{ r: beyondLimit }])).toBe('LimitViolated')
    // off the uniform price
    expect(await trySettle([{ r: { ...r, fills: [{ ...f0, bought: f0.bought + 1n }, r.fills[1]] } }])).toBe(
      'OffUniformPrice',
    )
    // wrong fee
    expect(await trySettle([{ r: { ...r, fills: [{ ...f0, fee: 0n }, r.fills[1]] } }])).toBe('BadFee')
    // forged order signature: signed by another key
    const forged = signed(domain, f0.order.order, traderKeys[2])
    expect(await trySettle([{ r: { ...r, fills: [{ ...f0, order: forged }, r.fills[1]] } }])).toBe(
      'BadOrderSignature',
    )
    // outside [firstBatch, lastBatch]
    const later = signed(domain, { ...f0.order.order, firstBatch: 6n, lastBatch: 6n }, traderKeys[0])
    expect(await trySettle([{ r: { ...r, fills: [{ ...f0, order: later }, r.fills[1]] } }])).toBe(
      'OutsideOrderWindow',
    )
    // the same one-shot order twice in one batch
    const twice = { ...r, fills: [f0, f0, r.fills[1]] }
    expect(await trySettle([{ r: twice }])).toBe('DuplicateOrder')
    // beyond the order's amount in one batch
    const big = signed(domain, { ...f0.order.order, sellAmount: 1000n }, traderKeys[0])
    expect(await trySettle([{ r: { ...r, fills: [{ ...f0, order: big }, r.fills[1]] } }])).toBe('Overfill')
    // tokens created: bought more than sold of an asset
    const extra = fillAt(
      signed(domain, { ...f0.order.order, nonce: 77n }, traderKeys[0]),
      pOf(f0.order.order.sellAsset),
      pOf(f0.order.order.buyAsset),
      1000n,
      FEE_BPS,
    )
    expect(await trySettle([{ r: { ...r, fills: [...r.fills, extra] } }])).toBe('AssetNotConserved')
  })

  it('accepts a fill exactly when its prices respect the limit and its amounts the signed ratio (property)', async () => {
    const t0 = traders[0].account!.address.toLowerCase() as Address
    const t1 = traders[1].account!.address.toLowerCase() as Address
    const [aId, bId] = [tokenAssetId(tokenA), tokenAssetId(tokenB)]
    const height = lastHeight + 1n
    const chainRef = await chainRefNow()
    let nonce = 10_000n
    const outcomes = new Set<string>()
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 1n, max: 100n }), // p[A]
        fc.bigInt({ min: 1n, max: 100n }), // p[B]
        fc.bigInt({ min: 1n, max: 20_000n }), // sellAmount
        fc.bigInt({ min: 1n, max: 20_000n }), // buyAmount
        fc.constantFrom<'sell' | 'buy'>('sell', 'buy'),
        fc.integer({ min: 0, max: 100 }), // percentage of the order to fill
        async (pA, pB, sellAmount, buyAmount, kind, pct) => {
          const order = makeOrder({
            trader: t0,
            sellAsset: aId,
            buyAsset: bId,
            sellAmount,
            buyAmount,
            kind,
            firstBatch: height,
            lastBatch: height,
            nonce: nonce++,
          })
          // Fill within the order's amount: sell kind sold + fee ≤ sellAmount, buy kind bought ≤ buyAmount.
          const amount =
            kind === 'sell'
              ? (((sellAmount * 10_000n) / (10_000n + FEE_BPS)) * BigInt(pct)) / 100n
              : (buyAmount * BigInt(pct)) / 100n
          const f0 = fillAt(signed(domain, order, traderKeys[0]), pA, pB, amount, FEE_BPS)
          // The counterparty buys exactly what trader 0 sold, generously limited: it always fits.
          const counter = makeOrder({
            trader: t1,
            sellAsset: bId,
            buyAsset: aId,
            sellAmount: 10n ** 12n,
            buyAmount: f0.sold,
            kind: 'buy',
            firstBatch: height,
            lastBatch: height,
            nonce: nonce++,
          })
          const f1 = fillAt(signed(domain, counter, traderKeys[1]), pB, pA, f0.sold, FEE_BPS)
          const aFirst = aId < bId
          const r = result({
            height,
            prevHeight: lastHeight,
            chainRef,
            assets: aFirst ? [aId, bId] : [bId, aId],
            prices: aFirst ? [pA, pB] : [pB, pA],
            fills: [f0, f1],
          })
          const outcome = await trySettle([{ r }])
          const respects = priceRespectsLimit(order, pA, pB, FEE_BPS)
          // The limit is checked first; a fill that moves nothing one way is no fill (EmptyFill); then each
          // fill must keep its trader's signed ratio after rounding (RatioViolated).
          const empty = [f0, f1].some((f) => f.sold === 0n || f.bought === 0n)
          const ratio = [f0, f1].every(
            (f) => f.bought * f.order.order.sellAmount >= (f.sold + f.fee) * f.order.order.buyAmount,
          )
          expect(outcome).toBe(
            !respects ? 'LimitViolated' : empty ? 'EmptyFill' : !ratio ? 'RatioViolated' : 'ok',
          )
          outcomes.add(outcome)
        },
      ),
      { numRuns: 40, seed: 42 },
    )
    expect([...outcomes].sort()).toEqual(['EmptyFill', 'LimitViolated', 'RatioViolated', 'ok'])
  })

  it('refuses a fill its trader cannot fund (no negative balance)', async () => {
    const r = await crossingBatch(5n, 4_000_000n, 50n)
    expect(await trySettle([{ r }])).toBe('InsufficientBalance')
  })

  it('tracks the cumulative fill of a multi-batch order across batches', async () => {
    const t0 = traders[0].account!.address.toLowerCase() as Address
    const t1 = traders[1].account!.address.toLowerCase() as Address
    const [aId, bId] = [tokenAssetId(tokenA), tokenAssetId(tokenB)]
    const resting = signed(
      domain,
      makeOrder({
        trader: t0,
        sellAsset: aId,
        buyAsset: bId,
        sellAmount: 10_010n,
        buyAmount: 10_000n,
        firstBatch: 5n,
        lastBatch: 9n,
        nonce: 900n,
      }),
      traderKeys[0],
    )
    const batch = async (height: bigint, amount: bigint, nonce: bigint) => {
      const counter = signed(
        domain,
        makeOrder({
          trader: t1,
          sellAsset: bId,
          buyAsset: aId,
          sellAmount: amount * 3n,
          buyAmount: amount,
          kind: 'buy',
          firstBatch: height,
          lastBatch: height,
          nonce,
        }),
        traderKeys[1],
      )
      return result({
        height,
        prevHeight: lastHeight,
        chainRef: await chainRefNow(),
        assets,
        prices,
        fills: [
          fillAt(resting, pOf(aId), pOf(bId), amount, FEE_BPS),
          fillAt(counter, pOf(bId), pOf(aId), amount, FEE_BPS),
        ],
      })
    }
    await settle([await batch(5n, 6000n, 901n)])
    const again = await batch(6n, 6000n, 902n)
    expect(await trySettle([{ r: again }])).toBe('Overfill')
    await settle([await batch(6n, 4000n, 903n)])
    const rest = await batch(7n, 1n, 904n)
    expect(await trySettle([{ r: rest }])).toBe('Overfill')
  })

  it('charges penalties from the bond, one per envelope with its evidence', async () => {
    const r = await crossingBatch(7n, 1000n, 7n)
    const before = await escrow(2, tokenA)
    const feeBefore = (await readEscrow(deployer, settlement, feeAccount, tokenA)).escrow
    // Two envelopes of one trader in one batch: each its own signed statement, each charged.
    const penalties = [penaltyOf(domain, traderKeys[2], 7n, 1), penaltyOf(domain, traderKeys[2], 7n, 2)]
    // Evidence of another height is refused (only a dishonest quorum would sign it).
    expect(await trySettle([{ r: { ...r, penalties: [penaltyOf(domain, traderKeys[2], 8n, 3)] } }])).toBe(
      'BadPenaltyEvidence',
    )
    await settle([{ ...r, penalties }])
    expect(await escrow(2, tokenA)).toBe(before - 2n * INVALID_ORDER_FEE)
    expect((await readEscrow(deployer, settlement, feeAccount, tokenA)).escrow).toBe(
      feeBefore + 2n * INVALID_ORDER_FEE + 1n,
    )
  })

  it('pays a withdrawal only once a batch with chainRef at or after the request settled', async () => {
    const balance = await escrow(0, tokenA)
    await requestWithdrawal(traders[0], settlement, tokenA, 1_000_000n)
    const requestBlock = (await readEscrow(deployer, settlement, traders[0].account!.address, tokenA))
      .requestBlock
    await expect(claimWithdrawal(traders[0], settlement, tokenA)).rejects.toThrow(/WithdrawalNotClaimable/)
    // A batch in flight, certified against a block before the request, still settles and spends.
    const inFlight = await crossingBatch(8n, 1000n, 8n, requestBlock - 1n)
    await settle([inFlight])
    await expect(claimWithdrawal(traders[0], settlement, tokenA)).rejects.toThrow(/WithdrawalNotClaimable/)
    const seen = await crossingBatch(9n, 1000n, 9n, requestBlock)
    await settle([seen])
    const wallet = await readTokenBalance(deployer, tokenA, traders[0].account!.address)
    await claimWithdrawal(traders[0], settlement, tokenA)
    expect(await readTokenBalance(deployer, tokenA, traders[0].account!.address)).toBe(wallet + 1_000_000n)
    expect(await escrow(0, tokenA)).toBe(balance - 2n * 1001n - 1_000_000n)
    await expect(claimWithdrawal(traders[0], settlement, tokenA)).rejects.toThrow(/NoPendingWithdrawal/)
  })

  it('handles tokens whose transfer returns no bool', async () => {
    const a = loadArtifact('NoReturnToken')
    const hash = await deployer.walletClient!.deployContract({
      abi: a.abi,
      bytecode: a.bytecode,
      account: deployer.account!,
    })
    const token = (await deployer.publicClient.waitForTransactionReceipt({ hash })).contractAddress!
    const t = traders[2]
    const me = t.account!.address
    const w = async (functionName: string, args: unknown[]) => {
      const h = await t.walletClient!.writeContract({
        address: token,
        abi: a.abi,
        functionName,
        args,
        account: t.account!,
      })
      await t.publicClient.waitForTransactionReceipt({ hash: h })
    }
    await w('mint', [me, 1000n])
    await w('approve', [settlement, 1000n])
    const h = await t.walletClient!.writeContract({
      address: settlement,
      abi: settlementAbi(),
      functionName: 'deposit',
      args: [token, 600n],
      account: t.account!,
    })
    expect((await t.publicClient.waitForTransactionReceipt({ hash: h })).status).toBe('success')
    expect((await readEscrow(t, settlement, me, token)).escrow).toBe(600n)
    // beyond the allowance: the token reverts, the deposit must too
    await expect(
      t.publicClient.simulateContract({
        address: settlement,
        abi: settlementAbi(),
        functionName: 'deposit',
        args: [token, 600n],
        account: t.account!,
      }),
    ).rejects.toThrow(/TokenCallFailed/)
  })

  it('opens the escape hatch when no batch settles for escapeBlocks, and voids batches certified before it', async () => {
    const stale = await crossingBatch(10n, 1000n, 10n)
    await expect(escapeWithdraw(traders[2], settlement, tokenB, 1000n)).rejects.toThrow(/EscapeNotActive/)
    await testClient().mine({ blocks: ESCAPE_BLOCKS + 1 })
    const wallet = await readTokenBalance(deployer, tokenB, traders[2].account!.address)
    await escapeWithdraw(traders[2], settlement, tokenB, 1000n)
    expect(await readTokenBalance(deployer, tokenB, traders[2].account!.address)).toBe(wallet + 1000n)
    const escapeBlock = (await readProgress(deployer, settlement)).lastEscapeBlock
    expect(escapeBlock).toBeGreaterThan(0n)
    // The stale batch is voided, not settled, so settlement moves on.
    const before = await escrow(0, tokenA)
    const receipt = await settle([stale])
    expect(
      parseEventLogs({ abi: settlementAbi(), logs: receipt.logs, eventName: 'BatchVoided' }),
    ).toHaveLength(1)
    expect(
      parseEventLogs({ abi: settlementAbi(), logs: receipt.logs, eventName: 'BatchSettled' }),
    ).toHaveLength(0)
    expect(await escrow(0, tokenA)).toBe(before)
    // A batch certified after the escape settles normally.
    const fresh = await crossingBatch(11n, 1000n, 11n)
    expect(fresh.chainRef).toBeGreaterThanOrEqual(escapeBlock)
    const r2 = await settle([fresh])
    expect(parseEventLogs({ abi: settlementAbi(), logs: r2.logs, eventName: 'BatchSettled' })).toHaveLength(1)
    expect(await escrow(0, tokenA)).toBe(before - 1001n)
  })

  it('settles what the solver clears, moving exactly its balance changes', async () => {
    const [aId, bId] = [tokenAssetId(tokenA), tokenAssetId(tokenB)]
    const height = lastHeight + 1n
    const who = [0, 1, 2].map((i) => traders[i].account!.address.toLowerCase() as Address)
    const specs = [
      { t: 0, sell: aId, buy: bId, sellAmount: 10_000n, buyAmount: 15_000n, kind: 'sell' as const },
      { t: 1, sell: bId, buy: aId, sellAmount: 20_000n, buyAmount: 8_000n, kind: 'buy' as const },
      { t: 2, sell: bId, buy: aId, sellAmount: 30_000n, buyAmount: 12_000n, kind: 'sell' as const },
    ]
    const orders: SolverOrder[] = specs.map((x, i) => {
      const order = makeOrder({
        trader: who[x.t],
        sellAsset: x.sell,
        buyAsset: x.buy,
        sellAmount: x.sellAmount,
        buyAmount: x.buyAmount,
        kind: x.kind,
        firstBatch: height,
        lastBatch: height,
        nonce: 5000n + BigInt(i),
      })
      return {
        id: `0x${(i + 1).toString(16).padStart(64, '0')}`,
        trader: who[x.t],
        sellAsset: x.sell,
        buyAsset: x.buy,
        sellAmount: x.sellAmount,
        buyAmount: x.buyAmount,
        kind: x.kind,
        partiallyFillable: true,
        signed: signed(domain, order, traderKeys[x.t]),
      }
    })
    const tokens = [tokenA, tokenB]
    const balances: Record<string, Record<string, bigint>> = {}
    const before = new Map<string, bigint>()
    for (const [i, t] of who.entries()) {
      balances[t] = {}
      for (const token of tokens) {
        const e = await escrow(i, token)
        balances[t][tokenAssetId(token)] = e
        before.set(`${t}:${tokenAssetId(token)}`, e)
      }
    }
    const feeBefore = await Promise.all(tokens.map((t) => readEscrow(deployer, settlement, feeAccount, t)))
    const out = clearBatch({
      orders,
      balances,
      params: {
        numeraire: bId,
        feeBps: FEE_BPS,
        height,
        prevHeight: lastHeight,
        chainRef: await chainRefNow(),
      },
    })
    expect(out.result.fills.length).toBeGreaterThan(0)
    await settle([out.result])
    for (const c of out.balanceChanges) {
      const i = who.indexOf(c.account.toLowerCase() as Address)
      const now = await escrow(i, c.asset === aId ? tokenA : tokenB)
      expect(now - (before.get(`${c.account.toLowerCase()}:${c.asset}`) as bigint)).toBe(c.delta)
    }
    for (const [k, t] of tokens.entries()) {
      const id = tokenAssetId(t)
      const gained = (await readEscrow(deployer, settlement, feeAccount, t)).escrow - feeBefore[k].escrow
      expect(gained).toBe((out.fees[id] ?? 0n) + (out.dust[id] ?? 0n))
    }
  })
})
