/**
 * One real chain for a test file: anvil, the real `AllotSettlement` (4 validators, quorum 3), two test
 * tokens, and traders with escrow. `trySettle` runs `settle` as a call and names the revert; `settle`
 * sends it and waits for the receipt. Stop it with `stop()` (anvil by PID).
 */
import {
  type Address,
  addressOf,
  type ClearingResult,
  type Hex,
  type NetworkDomain,
  type PrivateKey,
  privateKeyFromHex,
  tokenAssetId,
} from '@allot/protocol'
import { createTestClient, http } from 'viem'
import { expect } from 'vitest'
import {
  ANVIL_DEFAULT_KEYS,
  type AnvilInstance,
  type ChainClients,
  certifiedBatchArg,
  connectChain,
  deploySettlement,
  deployTestToken,
  depositToEscrow,
  loadArtifact,
  mintTestToken,
  readEscrow,
  revertName,
  settlementAbi,
  startAnvil,
} from '../../src/settlement/index.js'
import { certify, fixedKey } from './fixtures.js'

export interface SettlementChainOptions {
  feeBps?: bigint
  escapeBlocks?: number
  invalidOrderFee?: bigint
  /** Traders (anvil's default accounts 1..n), each with `deposit` of both tokens in escrow. */
  traders?: number
  deposit?: bigint
}

export interface SettlementChain {
  anvil: AnvilInstance
  deployer: ChainClients
  traders: ChainClients[]
  traderKeys: PrivateKey[]
  traderAddrs: Address[]
  validatorKeys: PrivateKey[]
  feeAccount: Address
  settlement: Address
  tokenA: Address
  tokenB: Address
  aId: Hex
  bId: Hex
  domain: NetworkDomain
  feeBps: bigint
  invalidOrderFee: bigint
  /** The chain's block number minus one: a chainRef the contract accepts now. */
  chainRefNow(): Promise<bigint>
  /** `settle` as a call: 'ok' or the custom error's name. */
  trySettle(rs: ClearingResult[], signers?: PrivateKey[]): Promise<string>
  /** `settle` as a transaction (must succeed); returns its receipt. */
  settle(rs: ClearingResult[]): Promise<{ logs: unknown[]; gasUsed: bigint }>
  escrow(account: Address, token: Address): Promise<bigint>
  /** The settled height (`progress.lastHeight`). */
  lastHeight(): Promise<bigint>
  /** Mines `blocks` empty blocks (anvil). */
  mine(blocks: number): Promise<void>
  stop(): Promise<void>
}

export async function startSettlementChain(o: SettlementChainOptions = {}): Promise<SettlementChain> {
  const feeBps = o.feeBps ?? 10n
  const invalidOrderFee = o.invalidOrderFee ?? 500n
  const nTraders = o.traders ?? 3
  loadArtifact('AllotSettlement')
  const anvil = await startAnvil()
  try {
    const deployer = await connectChain({
      rpcUrl: anvil.rpcUrl,
      privateKey: ANVIL_DEFAULT_KEYS[0],
      pollingIntervalMs: 20,
    })
    const ids = Array.from({ length: nTraders }, (_, i) => i + 1)
    const traderKeys = ids.map((i) => privateKeyFromHex(ANVIL_DEFAULT_KEYS[i]))
    const traders = await Promise.all(
      ids.map((i) =>
        connectChain({ rpcUrl: anvil.rpcUrl, privateKey: ANVIL_DEFAULT_KEYS[i], pollingIntervalMs: 20 }),
      ),
    )
    const validatorKeys = [0, 1, 2, 3].map(fixedKey)
    const feeAccount = addressOf(privateKeyFromHex(ANVIL_DEFAULT_KEYS[9]))
    const tokenA = await deployTestToken(deployer, { name: 'Token A', symbol: 'TKA' })
    const tokenB = await deployTestToken(deployer, { name: 'Token B', symbol: 'TKB' })
    const settlement = await deploySettlement(deployer, {
      validators: validatorKeys.map(addressOf),
      quorum: 3,
      feeBps: Number(feeBps),
      escapeBlocks: o.escapeBlocks ?? 1000,
      bondToken: tokenA,
      invalidOrderFee,
      feeAccount,
    })
    const deposit = o.deposit ?? 5_000_000n
    for (const t of traders) {
      for (const token of [tokenA, tokenB]) {
        await mintTestToken(deployer, token, t.account!.address, deposit * 2n)
        await depositToEscrow(t, settlement, token, deposit)
      }
    }
    const domain = { chainId: BigInt(anvil.chainId), verifyingContract: settlement }
    const quorum = validatorKeys.slice(0, 3)
    const args = (rs: ClearingResult[], signers: PrivateKey[]) =>
      rs.map((r) => certifiedBatchArg({ result: r, certificate: certify(domain, r, signers) }))
    const chain: SettlementChain = {
      anvil,
      deployer,
      traders,
      traderKeys,
      traderAddrs: traders.map((t) => t.account!.address.toLowerCase() as Address),
      validatorKeys,
      feeAccount,
      settlement,
      tokenA,
      tokenB,
      aId: tokenAssetId(tokenA),
      bId: tokenAssetId(tokenB),
      domain,
      feeBps,
      invalidOrderFee,
      chainRefNow: async () => (await deployer.publicClient.getBlockNumber({ cacheTime: 0 })) - 1n,
      async trySettle(rs, signers = quorum) {
        try {
          await deployer.publicClient.simulateContract({
            address: settlement,
            abi: settlementAbi(),
            functionName: 'settle',
            args: [args(rs, signers)],
            account: deployer.account,
          })
          return 'ok'
        } catch (e) {
          return revertName(e) ?? `error: ${(e as Error).stack?.slice(0, 600)}`
        }
      },
      async settle(rs) {
        const hash = await deployer.walletClient!.writeContract({
          address: settlement,
          abi: settlementAbi(),
          functionName: 'settle',
          args: [args(rs, quorum)],
          account: deployer.account!,
        })
        const receipt = await deployer.publicClient.waitForTransactionReceipt({ hash })
        expect(receipt.status).toBe('success')
        return receipt
      },
      escrow: async (account, token) => (await readEscrow(deployer, settlement, account, token)).escrow,
      async lastHeight() {
        const p = (await deployer.publicClient.readContract({
          address: settlement,
          abi: settlementAbi(),
          functionName: 'progress',
        })) as readonly bigint[]
        return BigInt(p[0])
      },
      mine: (blocks) => createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) }).mine({ blocks }),
      stop: () => anvil.stop(),
    }
    return chain
  } catch (e) {
    await anvil.stop()
    throw e
  }
}
