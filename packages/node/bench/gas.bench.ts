/**
 * Settlement gas: settling batches of 1, 10, 100 and 500 fills with 4 and 7 validators, against a real anvil.
 * Ceiling (the yardstick): CoW Protocol's published gas model (cowprotocol/services,
 * shared/src/price_estimation/gas.rs): 39,365 per settlement + 44,000 per trade + 27,513 per ERC-20
 * transfer (two per trade), which checks the same per-trade things; and an ERC-20 `transfer` measured here.
 * Goal: ≤ 30k gas per fill at 100 fills with 4 validators, all checks on.
 */
import '@allot/protocol/polyfill'
import {
  type Address,
  addressOf,
  type ClearingResult,
  type Fill,
  type PrivateKey,
  tokenAssetId,
} from '@allot/protocol'
import { encodeAbiParameters, type Hex, keccak256, pad, toHex } from 'viem'
import {
  ANVIL_DEFAULT_KEYS,
  type ChainClients,
  certifiedBatchArg,
  connectChain,
  deploySettlement,
  deployTestToken,
  readEscrow,
  settlementAbi,
  startAnvil,
  tokenAbi,
} from '../src/settlement/index.js'
import { certify, fillAt, fixedKey, makeOrder, penaltyOf, result, signed } from '../test/anvil/fixtures.js'

const COW = { settlement: 39_365, trade: 44_000, erc20Transfer: 27_513 }
const FEE_BPS = 5n
/** Storage slot of `balanceOf` in AllotSettlement (validatorList 0, isValidator 1, balanceOf 2); checked below. */
const BALANCE_SLOT = 2n
const BLOCK_GAS = 30_000_000n

const anvil = await startAnvil({ gasLimit: 60_000_000n })
try {
  const c = await connectChain({
    rpcUrl: anvil.rpcUrl,
    privateKey: ANVIL_DEFAULT_KEYS[0],
    pollingIntervalMs: 10,
  })
  const tokenA = await deployTestToken(c, { name: 'A', symbol: 'TKA' })
  const tokenB = await deployTestToken(c, { name: 'B', symbol: 'TKB' })
  const transferGas = await measureTransfer(c, tokenA)
  const traderKeys = Array.from({ length: 500 }, (_, i) => fixedKey(10_000 + i))
  const traders = traderKeys.map((k) => addressOf(k))

  const rows: { validators: number; fills: number; gas: bigint; note?: string }[] = []
  for (const n of [4, 7]) {
    for (const fills of [2, 10, 100, 500]) {
      rows.push({
        validators: n,
        fills,
        gas: await measure(c, n, fills, tokenA, tokenB, traderKeys, traders, true),
      })
    }
  }
  const fresh = await measure(c, 4, 100, tokenA, tokenB, traderKeys, traders, false)
  // Worst case per fill: buy-token slot fresh and a multi-batch order (a fresh cumulative-fill slot).
  const worst = await measure(c, 4, 100, tokenA, tokenB, traderKeys, traders, false, true)
  const worst500 = await measure(c, 4, 500, tokenA, tokenB, traderKeys, traders, false, true)
  const withPenalties = await measure(c, 4, 100, tokenA, tokenB, traderKeys, traders, true, false, 100)

  const cowPerTrade = COW.trade + 2 * COW.erc20Transfer
  console.log(
    `ERC-20 transfer measured here: ${transferGas} gas; CoW model: ${COW.settlement} fixed + ${cowPerTrade} per trade (${COW.trade} + 2 × ${COW.erc20Transfer})`,
  )
  console.log('| validators (quorum) | fills | gas | gas per fill | CoW model, same trades | CoW per trade |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const r of rows) {
    const cow = COW.settlement + cowPerTrade * r.fills
    const q = r.validators === 4 ? 3 : 5
    console.log(
      `| ${r.validators} (${q}) | ${r.fills} | ${r.gas} | ${(Number(r.gas) / r.fills) | 0} | ${cow} | ${(cow / r.fills) | 0} |`,
    )
  }
  const at = (v: number, f: number) => rows.find((r) => r.validators === v && r.fills === f)?.gas ?? 0n
  const marginal = (at(4, 500) - at(4, 100)) / 400n
  const fixed = at(4, 100) - marginal * 100n
  console.log(`marginal gas per fill (4 validators, 100→500 fills): ${marginal}; fixed part ≈ ${fixed}`)
  console.log(
    `100 fills, 4 validators, every buyer's buy-token balance slot fresh (zero → nonzero): ${fresh} (${(Number(fresh) / 100) | 0} per fill)`,
  )
  const perFill100 = Number(at(4, 100)) / 100
  console.log(
    `goal ≤ 30000 gas per fill at 100 fills with 4 validators: ${perFill100 | 0} — ${perFill100 <= 30_000 ? 'met' : 'NOT met'}`,
  )
  console.log(
    `100 fills, 4 validators, worst case (fresh buy slot + multi-batch order slot): ${worst} (${(Number(worst) / 100) | 0} per fill); 500 fills: ${worst500}`,
  )
  const perPenalty = (withPenalties - at(4, 100)) / 100n
  console.log(
    `100 penalties with evidence on top of 100 fills (4 validators): ${withPenalties} (${perPenalty} per penalty: SealedOrder signature, its once-ever slot, the bond debit, the event)`,
  )
  const maxFills = (BLOCK_GAS / 2n - fixed) / marginal
  console.log(`fills fitting half a 30M block, typical fills (4 validators): ${maxFills}`)
  const marginal7 = (at(7, 500) - at(7, 100)) / 400n
  const fixed7 = at(7, 100) - marginal7 * 100n
  console.log(
    `fills fitting half a 30M block, typical fills (7 validators): ${(BLOCK_GAS / 2n - fixed7) / marginal7}`,
  )
  const worstMarginal = (worst500 - worst) / 400n
  const worstFixed = worst - worstMarginal * 100n
  console.log(
    `maxFillsPerBatch default — worst-case fills fitting half a 30M block: ${(BLOCK_GAS / 2n - worstFixed) / worstMarginal}`,
  )
} finally {
  await anvil.stop()
}

async function measureTransfer(c: ChainClients, token: Address): Promise<bigint> {
  const me = c.account!.address
  const mint = await c.walletClient!.writeContract({
    address: token,
    abi: tokenAbi(),
    functionName: 'mint',
    args: [me, 10n ** 24n],
    account: c.account!,
  })
  await c.publicClient.waitForTransactionReceipt({ hash: mint })
  const to = addressOf(fixedKey(7))
  // First a transfer to create the recipient's balance, then the measured one (nonzero → nonzero, like most trades).
  for (let i = 0; i < 2; i++) {
    const h = await c.walletClient!.writeContract({
      address: token,
      abi: tokenAbi(),
      functionName: 'transfer',
      args: [to, 1000n],
      account: c.account!,
    })
    const r = await c.publicClient.waitForTransactionReceipt({ hash: h })
    if (i === 1) return r.gasUsed
  }
  return 0n
}

/** Sets escrow balances directly in the contract's storage (anvil_setStorageAt): faster than 1000 deposits. */
async function setEscrow(
  c: ChainClients,
  settlement: Address,
  account: Address,
  token: Address,
  amount: bigint,
) {
  const inner = keccak256(
    encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], [account, BALANCE_SLOT]),
  )
  const slot = keccak256(encodeAbiParameters([{ type: 'address' }, { type: 'bytes32' }], [token, inner]))
  await c.publicClient.request({
    method: 'anvil_setStorageAt' as never,
    params: [settlement, slot, pad(toHex(amount), { size: 32 })] as never,
  })
}

async function measure(
  c: ChainClients,
  nValidators: number,
  nFills: number,
  tokenA: Address,
  tokenB: Address,
  traderKeys: PrivateKey[],
  traders: Address[],
  buySlotsWarm: boolean,
  multiBatch = false,
  /** Penalties with evidence (envelopes of traders 0..n−1, who hold bond): what one costs on top. */
  nPenalties = 0,
): Promise<bigint> {
  const lastBatch = multiBatch ? 2n : 1n
  const validatorKeys = Array.from({ length: nValidators }, (_, i) => fixedKey(i))
  const quorum = Math.floor((2 * nValidators) / 3) + 1
  const settlement = await deploySettlement(c, {
    validators: validatorKeys.map(addressOf),
    quorum,
    feeBps: Number(FEE_BPS),
    escapeBlocks: 1000,
    bondToken: tokenA,
    invalidOrderFee: 1n,
    feeAccount: addressOf(fixedKey(5)),
  })
  const domain = { chainId: BigInt(anvil.chainId), verifyingContract: settlement }
  const aId = tokenAssetId(tokenA)
  const bId = tokenAssetId(tokenB)
  const [assets, prices] =
    aId < bId
      ? [
          [aId, bId],
          [3n, 2n],
        ]
      : [
          [bId, aId],
          [2n, 3n],
        ]
  const pOf = (id: Hex) => (id === assets[0] ? prices[0] : prices[1])
  const big = 10n ** 24n
  const tasks: Promise<void>[] = []
  for (let i = 0; i < nFills; i++) {
    // Trader i sells A (even i) or B (odd i); it holds its sell token, and its buy token unless measuring fresh slots.
    const sells = i % 2 === 0 ? tokenA : tokenB
    const buys = i % 2 === 0 ? tokenB : tokenA
    tasks.push(setEscrow(c, settlement, traders[i], sells, big))
    if (buySlotsWarm) tasks.push(setEscrow(c, settlement, traders[i], buys, 1n))
  }
  await Promise.all(tasks)
  const check = await readEscrow(c, settlement, traders[0], tokenA)
  if (check.escrow !== big) throw new Error(`balanceOf slot is not ${BALANCE_SLOT}`)

  const fills: Fill[] = []
  // Pairs (the smallest batch that conserves both tokens): a lone fill would have to buy nothing,
  // which the contract refuses (EmptyFill).
  for (let i = 0; i < nFills; i += 2) {
    // Pairs: a sell-kind order selling 3000 A for B, a buy-kind order buying 3000 A with B.
    const sellA = signed(
      domain,
      makeOrder({
        trader: traders[i],
        sellAsset: aId,
        buyAsset: bId,
        sellAmount: 1_000_000n,
        buyAmount: 1_000_000n,
        nonce: BigInt(i),
        lastBatch,
      }),
      traderKeys[i],
    )
    const buyA = signed(
      domain,
      makeOrder({
        trader: traders[i + 1],
        sellAsset: bId,
        buyAsset: aId,
        sellAmount: 1_000_000n,
        buyAmount: 300_000n,
        kind: 'buy',
        nonce: BigInt(i),
        lastBatch,
      }),
      traderKeys[i + 1],
    )
    fills.push(
      fillAt(sellA, pOf(aId), pOf(bId), 200_000n, FEE_BPS),
      fillAt(buyA, pOf(bId), pOf(aId), 200_000n, FEE_BPS),
    )
  }
  const chainRef = (await c.publicClient.getBlockNumber({ cacheTime: 0 })) - 1n
  const penalties = Array.from({ length: nPenalties }, (_, i) => penaltyOf(domain, traderKeys[i], 1n, i + 1))
  const r: ClearingResult = result({ height: 1n, prevHeight: 0n, chainRef, assets, prices, fills, penalties })
  const arg = certifiedBatchArg({
    result: r,
    certificate: certify(domain, r, validatorKeys.slice(0, quorum)),
  })
  const hash = await c.walletClient!.writeContract({
    address: settlement,
    abi: settlementAbi(),
    functionName: 'settle',
    args: [[arg]],
    account: c.account!,
  })
  const receipt = await c.publicClient.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new Error(`settle of ${nFills} fills failed`)
  return receipt.gasUsed
}
