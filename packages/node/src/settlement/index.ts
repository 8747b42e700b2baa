/**
 * Settlement: the `AllotSettlement` contract's artifacts, a local chain (anvil) for devnets and tests,
 * and the node's adapter — deploy, balances at a chainRef, the event follower, batch submission.
 * Rules and trust model: docs/settlement.md.
 */
export {
  ANVIL_DEFAULT_KEYS,
  type AnvilInstance,
  type AnvilOptions,
  anvilBinaryPath,
  freePort,
  startAnvil,
  stopPid,
} from './anvil.js'
export {
  ARTIFACTS_DIR,
  CONTRACTS_DIR,
  type ContractArtifact,
  type ContractName,
  compileContracts,
  loadArtifact,
} from './artifacts.js'
export {
  asSettleError,
  type CertifiedBatchArg,
  type CertifiedResult,
  type ChainClientOptions,
  type ChainClients,
  certifiedBatchArg,
  connectChain,
  requireWallet,
  revertName,
  settlementAbi,
  tokenAbi,
} from './chain.js'
export { ChainRefPoller, type ChainRefPollerOptions } from './chain-ref.js'
export { deploySettlement, deployTestToken, mintTestToken, type SettlementParams } from './deploy.js'
export {
  type FollowerCursor,
  type KeyValueStore,
  MemoryKeyValueStore,
  type SettlementEvent,
  SettlementEventFollower,
  type SettlementEventFollowerOptions,
} from './follower.js'
export {
  claimWithdrawal,
  depositToEscrow,
  type EscrowPosition,
  escapeWithdraw,
  invalidateOrder,
  readEscrow,
  readInvalidatedAt,
  readTokenBalance,
  requestWithdrawal,
} from './funds.js'
export { DEFAULT_MAX_FILLS_PER_BATCH, maxPenaltiesFor, SETTLEMENT_GAS } from './limits.js'
export {
  type BalanceReader,
  ChainBalanceReader,
  type ChainBalanceReaderOptions,
  readProgress,
  type SettlementProgress,
} from './reader.js'
export { BatchSubmitter, type BatchSubmitterOptions, type SubmitOutcome } from './submitter.js'
