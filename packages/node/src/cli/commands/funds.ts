import { AllotError, addressOf, isAddress, toHex } from '@allot/protocol'
import type { Command } from 'commander'
import type { Address, Hex } from 'viem'
import {
  type ChainClients,
  claimWithdrawal,
  connectChain,
  depositToEscrow,
  readEscrow,
  requestWithdrawal,
} from '../../settlement/index.js'
import { formatUnits, toBaseUnits } from '../amounts.js'
import type { RegisterCommands } from './index.js'
import { loadCliKey, withClient } from './orders.js'

/** Where the chain side is: from the node's info (`--node`), or given directly (`--rpc-url`, `--settlement`). */
interface ChainTarget {
  rpcUrl: string
  settlement: Address
  chainId?: number
  token: Address
  symbol: string
  /** The token's decimals from genesis (with --node); unknown when named by address alone. */
  decimals?: number
}

interface FundsFlags {
  token: string
  amount?: string
  raw?: boolean
  key: string
  node?: string
  rpcUrl?: string
  settlement?: string
  json?: boolean
}

async function resolveTarget(o: FundsFlags): Promise<ChainTarget> {
  if (o.node) {
    const info = await withClient(o.node, (c) => c.info())
    const rpcUrl = o.rpcUrl ?? info.rpcUrl
    if (!rpcUrl)
      throw new AllotError('CLI_NO_RPC', 'the node does not publish a chain RPC URL: pass --rpc-url')
    const asset = info.assets.find(
      (a) => a.symbol === o.token || a.ref.toLowerCase() === o.token.toLowerCase(),
    )
    if (asset && asset.kind !== 'token') {
      throw new AllotError(
        'ORDER_BAD_ASSET',
        `${o.token} is a resource class: resource classes are not escrowed`,
      )
    }
    const token = asset ? (asset.ref as Address) : isAddress(o.token) ? o.token : undefined
    if (!token) throw new AllotError('ORDER_UNKNOWN_ASSET', `unknown asset ${o.token}`)
    return {
      rpcUrl,
      settlement: info.settlement,
      chainId: Number(info.chainId),
      token,
      symbol: asset?.symbol ?? token,
      decimals: asset?.decimals,
    }
  }
  if (!o.rpcUrl || !o.settlement) {
    throw new AllotError('CLI_BAD_FLAG', 'give --node, or --rpc-url and --settlement')
  }
  if (!isAddress(o.settlement))
    throw new AllotError('CLI_BAD_FLAG', `--settlement must be an address, got ${o.settlement}`)
  if (!isAddress(o.token))
    throw new AllotError(
      'ORDER_UNKNOWN_ASSET',
      `--token must be a token address without --node, got ${o.token}`,
    )
  return { rpcUrl: o.rpcUrl, settlement: o.settlement, token: o.token, symbol: o.token }
}

/**
 * `--amount` in the token's own decimals (from the node's genesis: `--amount 100.5`), or base units with
 * `--raw` or a `wei`/`raw` suffix — and always in base units when the token is named by address without
 * `--node` (its decimals are not known then).
 */
function parseAmount(o: FundsFlags, t: ChainTarget): bigint {
  if (o.amount === undefined) throw new AllotError('CLI_BAD_FLAG', '--amount is required')
  const m = /^(.*?)(wei|raw)$/i.exec(o.amount.trim())
  const text = m ? m[1] : o.amount.trim()
  const raw = o.raw === true || m !== null || t.decimals === undefined
  return toBaseUnits(text, t.decimals ?? 0, raw, '--amount')
}

/** Refused before anything is dialed: no amount, or one that is not a number in any form. */
function checkAmountShape(v: string | undefined): void {
  if (v === undefined) throw new AllotError('CLI_BAD_FLAG', '--amount is required')
  if (!/^\+?[0-9][0-9_,]*(\.[0-9]*)?\s*(wei|raw)?$/i.test(v.trim()))
    throw new AllotError('ORDER_BAD_AMOUNT', `--amount must be a positive decimal number, got ${v}`)
}

/** Base units as people read them: in the token's decimals when known. */
function shown(units: bigint, t: ChainTarget): string {
  return t.decimals === undefined ? `${units} (base units)` : formatUnits(units, t.decimals)
}

async function connect(o: FundsFlags): Promise<{ t: ChainTarget; c: ChainClients; me: Address }> {
  const t = await resolveTarget(o)
  const key = await loadCliKey(o.key)
  const c = await connectChain({ rpcUrl: t.rpcUrl, chainId: t.chainId, privateKey: toHex(key) as Hex })
  return { t, c, me: addressOf(key) }
}

function print(o: FundsFlags, doc: Record<string, unknown>, human: string): void {
  if (o.json) process.stdout.write(`${JSON.stringify(doc)}\n`)
  else process.stdout.write(`${human}\n`)
}

function withChainFlags(cmd: Command): Command {
  return cmd
    .requiredOption(
      '--token <asset>',
      'token: a symbol known to the network (with --node) or a token address',
    )
    .requiredOption('--key <key>', 'trader key: keystore file or (devnets) raw hex')
    .option(
      '--node <multiaddr>',
      'a node API multiaddr (the chain RPC, settlement contract and symbols come from it)',
    )
    .option('--rpc-url <url>', 'chain JSON-RPC URL (instead of, or overriding, the node’s)')
    .option('--settlement <address>', 'settlement contract address (without --node)')
    .option('--json', 'print JSON')
}

const AMOUNT_HELP =
  'amount in the token’s decimals (with --node; `--raw` or a wei suffix for base units; base units when --token is an address without --node)'

/** `allot deposit` and `allot withdraw request|claim` (CLI.md "Orders and funds"). */
export const registerFundsCommands: RegisterCommands = (program: Command) => {
  withChainFlags(
    program.command('deposit').description('deposit a token into escrow (approves the contract first)'),
  )
    .requiredOption('--amount <n>', AMOUNT_HELP)
    .option('--raw', '--amount in base units')
    .action(async (o: FundsFlags) => {
      checkAmountShape(o.amount)
      const { t, c, me } = await connect(o)
      const amount = parseAmount(o, t)
      const txHash = await depositToEscrow(c, t.settlement, t.token, amount)
      const e = await readEscrow(c, t.settlement, me, t.token)
      print(
        o,
        { address: me, token: t.token, amount: amount.toString(), txHash, escrow: e.escrow.toString() },
        `deposited ${shown(amount, t)} ${t.symbol} (escrow now ${shown(e.escrow, t)}) in ${txHash}`,
      )
    })

  const withdraw = program
    .command('withdraw')
    .description('withdraw a token from escrow: request, then claim')
  withChainFlags(
    withdraw
      .command('request')
      .description('request a withdrawal; claimable once a batch that saw the request has settled'),
  )
    .requiredOption('--amount <n>', AMOUNT_HELP)
    .option('--raw', '--amount in base units')
    .action(async (o: FundsFlags) => {
      checkAmountShape(o.amount)
      const { t, c, me } = await connect(o)
      const amount = parseAmount(o, t)
      const txHash = await requestWithdrawal(c, t.settlement, t.token, amount)
      const e = await readEscrow(c, t.settlement, me, t.token)
      print(
        o,
        {
          address: me,
          token: t.token,
          pendingWithdrawal: e.pendingWithdrawal.toString(),
          requestBlock: e.requestBlock.toString(),
          txHash,
        },
        `withdrawal of ${shown(e.pendingWithdrawal, t)} ${t.symbol} requested at block ${e.requestBlock} in ${txHash}`,
      )
    })
  withChainFlags(withdraw.command('claim').description('pay out the pending withdrawal once claimable'))
    .option('--amount <n>', 'ignored: the whole pending withdrawal is paid')
    .action(async (o: FundsFlags) => {
      const { t, c, me } = await connect(o)
      const before = await readEscrow(c, t.settlement, me, t.token)
      if (before.pendingWithdrawal === 0n) {
        throw new AllotError('CLI_NO_WITHDRAWAL', `no pending withdrawal of ${t.symbol} for ${me}`)
      }
      const txHash = await claimWithdrawal(c, t.settlement, t.token)
      const after = await readEscrow(c, t.settlement, me, t.token)
      const paid = before.escrow - after.escrow
      print(
        o,
        { address: me, token: t.token, amount: paid.toString(), txHash },
        `withdrew ${shown(paid, t)} ${t.symbol} in ${txHash}`,
      )
    })
}
