import { AllotError } from '@allot/protocol'
import type { Address, Hex } from 'viem'
import { loadArtifact } from './artifacts.js'
import { type ChainClients, requireWallet, tokenAbi } from './chain.js'

export interface SettlementParams {
  validators: Address[]
  /** 2f+1 of n. */
  quorum: number
  feeBps: number
  /** Blocks without a settlement after which traders may withdraw directly (escape hatch). */
  escapeBlocks: number
  bondToken: Address
  invalidOrderFee: bigint
  /** Receives protocol fees, rounding dust and penalties; validators draw on it. */
  feeAccount: Address
}

async function deployed(c: ChainClients, hash: Hex, what: string): Promise<Address> {
  const receipt = await c.publicClient.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success' || !receipt.contractAddress) {
    throw new AllotError('SETTLE_DEPLOY_FAILED', `${what} deployment failed in ${hash}`)
  }
  return receipt.contractAddress.toLowerCase() as Address
}

/** Deploys `AllotSettlement` (devnets and tests). Returns its address (lowercase). */
export async function deploySettlement(c: ChainClients, p: SettlementParams): Promise<Address> {
  const { walletClient, account } = requireWallet(c)
  const a = loadArtifact('AllotSettlement')
  const hash = await walletClient.deployContract({
    abi: a.abi,
    bytecode: a.bytecode,
    account,
    args: [
      p.validators,
      BigInt(p.quorum),
      BigInt(p.feeBps),
      BigInt(p.escapeBlocks),
      p.bondToken,
      p.invalidOrderFee,
      p.feeAccount,
    ],
  })
  return deployed(c, hash, 'AllotSettlement')
}

/** Deploys a `TestToken` (an ERC-20 mintable by the deployer only). */
export async function deployTestToken(
  c: ChainClients,
  t: { name: string; symbol: string; decimals?: number },
): Promise<Address> {
  const { walletClient, account } = requireWallet(c)
  const a = loadArtifact('TestToken')
  const hash = await walletClient.deployContract({
    abi: a.abi,
    bytecode: a.bytecode,
    account,
    args: [t.name, t.symbol, t.decimals ?? 18],
  })
  return deployed(c, hash, `TestToken ${t.symbol}`)
}

/** Mints test tokens (only the token's deployer may). Waits for the receipt. */
export async function mintTestToken(
  c: ChainClients,
  token: Address,
  to: Address,
  amount: bigint,
): Promise<void> {
  const { walletClient, account } = requireWallet(c)
  const hash = await walletClient.writeContract({
    address: token,
    abi: tokenAbi(),
    functionName: 'mint',
    args: [to, amount],
    account,
  })
  await c.publicClient.waitForTransactionReceipt({ hash })
}
