import {
  AllotError,
  type BatchCertificate,
  type ClearingResult,
  encodeSettlementPayload,
} from '@allot/protocol'
import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type Chain,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  type PublicClient,
  type Transport,
  toHex,
  type WalletClient,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadArtifact } from './artifacts.js'

/** viem clients for one chain: reads always, writes when a key is given. */
export interface ChainClients {
  chain: Chain
  publicClient: PublicClient<Transport, Chain>
  walletClient?: WalletClient<Transport, Chain, Account>
  account?: Account
}

export interface ChainClientOptions {
  rpcUrl: string
  /** Asked from the RPC when omitted. */
  chainId?: number
  /** Hex private key that signs transactions. */
  privateKey?: Hex
  /** Poll interval of viem's watchers and receipt waits, ms (anvil mines instantly: keep it short). */
  pollingIntervalMs?: number
}

/** Makes viem clients; RPC errors are retried by the transport with exponential backoff. */
export async function connectChain(opts: ChainClientOptions): Promise<ChainClients> {
  const transport = http(opts.rpcUrl, { retryCount: 4, retryDelay: 150, timeout: 30_000 })
  let chainId = opts.chainId
  if (chainId === undefined) {
    const probe = createPublicClient({ transport })
    chainId = await probe.getChainId()
  }
  const chain = defineChain({
    id: chainId,
    name: `chain-${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [opts.rpcUrl] } },
  })
  const pollingInterval = opts.pollingIntervalMs ?? 250
  const publicClient = createPublicClient({ chain, transport, pollingInterval }) as PublicClient<
    Transport,
    Chain
  >
  if (!opts.privateKey) return { chain, publicClient }
  const account = privateKeyToAccount(opts.privateKey)
  const walletClient = createWalletClient({ chain, transport, account, pollingInterval })
  return { chain, publicClient, walletClient, account }
}

export function requireWallet(c: ChainClients): {
  walletClient: WalletClient<Transport, Chain, Account>
  account: Account
} {
  if (!c.walletClient || !c.account)
    throw new AllotError('SETTLE_NO_KEY', 'this operation needs a signing key')
  return { walletClient: c.walletClient, account: c.account }
}

export function settlementAbi(): Abi {
  return loadArtifact('AllotSettlement').abi
}

export function tokenAbi(): Abi {
  return loadArtifact('TestToken').abi
}

/** The `settle` argument for one certified batch: payload bytes and signatures sorted by signer. */
export interface CertifiedBatchArg {
  payload: Hex
  signatures: { v: number; r: Hex; s: Hex }[]
}

/** A clearing result with the certificate validators signed over it. */
export interface CertifiedResult {
  result: ClearingResult
  certificate: BatchCertificate
}

export function certifiedBatchArg(c: CertifiedResult): CertifiedBatchArg {
  if (c.certificate.height !== c.result.height) {
    throw new AllotError('SETTLE_BAD_CERTIFICATE', 'certificate and result differ in height')
  }
  const sigs = [...c.certificate.signatures].sort((a, b) =>
    a.validator.toLowerCase() < b.validator.toLowerCase() ? -1 : 1,
  )
  return {
    payload: toHex(encodeSettlementPayload(c.result)),
    signatures: sigs.map((s) => ({ v: s.signature.v, r: s.signature.r, s: s.signature.s })),
  }
}

/** The custom error name of a reverted contract call, if the error is one. */
export function revertName(e: unknown): string | undefined {
  if (!(e instanceof BaseError)) return undefined
  const r = e.walk((x) => x instanceof ContractFunctionRevertedError)
  if (r instanceof ContractFunctionRevertedError) return r.data?.errorName ?? r.reason ?? 'reverted'
  return undefined
}

/** Maps a reverted call to an AllotError carrying the contract's error name; rethrows anything else. */
export function asSettleError(e: unknown, what: string): never {
  const name = revertName(e)
  if (name) throw new AllotError('SETTLE_REVERTED', `${what} reverted: ${name}`, { revert: name })
  throw e
}

export type { Address, Hex }
