import { AllotError } from '@allot/protocol'
import type { Address, Hex } from 'viem'
import { asSettleError, type ChainClients, requireWallet, settlementAbi, tokenAbi } from './chain.js'

/** A trader's funds in escrow for one token, as the contract holds them at a block. */
export interface EscrowPosition {
  token: Address
  escrow: bigint
  pendingWithdrawal: bigint
  /** Block of the latest withdrawal request (0 when none). */
  requestBlock: bigint
}

async function sent(c: ChainClients, hash: Hex, what: string): Promise<Hex> {
  const receipt = await c.publicClient.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new AllotError('SETTLE_TX_FAILED', `${what} failed in ${hash}`)
  return hash
}

/**
 * `deposit(token, amount)`: approves the settlement contract for exactly `amount` when the allowance is
 * short, then deposits. Returns the deposit transaction hash.
 */
export async function depositToEscrow(
  c: ChainClients,
  settlement: Address,
  token: Address,
  amount: bigint,
): Promise<Hex> {
  if (amount <= 0n) throw new AllotError('ORDER_BAD_AMOUNT', 'deposit amount must be > 0')
  const { walletClient, account } = requireWallet(c)
  const allowance = (await c.publicClient.readContract({
    address: token,
    abi: tokenAbi(),
    functionName: 'allowance',
    args: [account.address, settlement],
  })) as bigint
  if (allowance < amount) {
    const h = await walletClient.writeContract({
      address: token,
      abi: tokenAbi(),
      functionName: 'approve',
      args: [settlement, amount],
      account,
    })
    await sent(c, h, 'approve')
  }
  try {
    const { request } = await c.publicClient.simulateContract({
      address: settlement,
      abi: settlementAbi(),
      functionName: 'deposit',
      args: [token, amount],
      account,
    })
    return await sent(c, await walletClient.writeContract(request), 'deposit')
  } catch (e) {
    asSettleError(e, 'deposit')
  }
}

/** `requestWithdrawal(token, amount)`. */
export async function requestWithdrawal(
  c: ChainClients,
  settlement: Address,
  token: Address,
  amount: bigint,
): Promise<Hex> {
  if (amount <= 0n) throw new AllotError('ORDER_BAD_AMOUNT', 'withdrawal amount must be > 0')
  const { walletClient, account } = requireWallet(c)
  try {
    const { request } = await c.publicClient.simulateContract({
      address: settlement,
      abi: settlementAbi(),
      functionName: 'requestWithdrawal',
      args: [token, amount],
      account,
    })
    return await sent(c, await walletClient.writeContract(request), 'requestWithdrawal')
  } catch (e) {
    asSettleError(e, 'requestWithdrawal')
  }
}

/**
 * `withdraw(token)`: pays the pending withdrawal once claimable (a batch with chainRef ≥ the request's block
 * settled), or during an escape. Refuses with SETTLE_REVERTED (`WithdrawalNotClaimable`) before.
 */
export async function claimWithdrawal(c: ChainClients, settlement: Address, token: Address): Promise<Hex> {
  const { walletClient, account } = requireWallet(c)
  try {
    const { request } = await c.publicClient.simulateContract({
      address: settlement,
      abi: settlementAbi(),
      functionName: 'withdraw',
      args: [token],
      account,
    })
    return await sent(c, await walletClient.writeContract(request), 'withdraw')
  } catch (e) {
    asSettleError(e, 'withdraw')
  }
}

/** `escapeWithdraw(token, amount)`: only while no batch has settled for `escapeBlocks`. */
export async function escapeWithdraw(
  c: ChainClients,
  settlement: Address,
  token: Address,
  amount: bigint,
): Promise<Hex> {
  const { walletClient, account } = requireWallet(c)
  try {
    const { request } = await c.publicClient.simulateContract({
      address: settlement,
      abi: settlementAbi(),
      functionName: 'escapeWithdraw',
      args: [token, amount],
      account,
    })
    return await sent(c, await walletClient.writeContract(request), 'escapeWithdraw')
  } catch (e) {
    asSettleError(e, 'escapeWithdraw')
  }
}

/** Escrow balance and pending withdrawal of (account, token) at `blockNumber` (latest when omitted). */
export async function readEscrow(
  c: ChainClients,
  settlement: Address,
  account: Address,
  token: Address,
  blockNumber?: bigint,
): Promise<EscrowPosition> {
  const abi = settlementAbi()
  const [escrow, pending] = await Promise.all([
    c.publicClient.readContract({
      address: settlement,
      abi,
      functionName: 'balanceOf',
      args: [account, token],
      blockNumber,
    }),
    c.publicClient.readContract({
      address: settlement,
      abi,
      functionName: 'pendingWithdrawal',
      args: [account, token],
      blockNumber,
    }),
  ])
  const [amount, requestBlock] = pending as readonly [bigint, bigint]
  return { token, escrow: escrow as bigint, pendingWithdrawal: amount, requestBlock }
}

/** ERC-20 wallet balance (outside escrow). */
export async function readTokenBalance(c: ChainClients, token: Address, account: Address): Promise<bigint> {
  return (await c.publicClient.readContract({
    address: token,
    abi: tokenAbi(),
    functionName: 'balanceOf',
    args: [account],
  })) as bigint
}

/**
 * `invalidateOrder(orderDigest)`: the trader's on-chain way out of its own order (the EIP-712 digest of
 * the signed `Order`, `orderDigest` in @allot/protocol). No batch certified against this block or a later
 * one fills it; the validators leave it out of every such batch (they read it at the batch's chainRef).
 */
export async function invalidateOrder(c: ChainClients, settlement: Address, orderDigest: Hex): Promise<Hex> {
  const { walletClient, account } = requireWallet(c)
  try {
    const { request } = await c.publicClient.simulateContract({
      address: settlement,
      abi: settlementAbi(),
      functionName: 'invalidateOrder',
      args: [orderDigest],
      account,
    })
    return await sent(c, await walletClient.writeContract(request), 'invalidateOrder')
  } catch (e) {
    asSettleError(e, 'invalidateOrder')
  }
}

/** The blocks at which orders were invalidated (0n: never), as of block `at` (default latest). */
export async function readInvalidatedAt(
  c: ChainClients,
  settlement: Address,
  orders: { trader: Address; digest: Hex }[],
  at?: bigint,
): Promise<bigint[]> {
  const out: bigint[] = []
  for (let i = 0; i < orders.length; i += 512) {
    const part = orders.slice(i, i + 512)
    const r = (await c.publicClient.readContract({
      address: settlement,
      abi: settlementAbi(),
      functionName: 'invalidatedAtMany',
      args: [part.map((o) => o.trader), part.map((o) => o.digest)],
      blockNumber: at,
    })) as readonly bigint[]
    for (const x of r) out.push(BigInt(x))
  }
  return out
}
