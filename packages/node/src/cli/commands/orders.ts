import {
  type Address,
  AllotError,
  addressOf,
  type BalanceView,
  type Hex,
  isAddress,
  isBytes32,
  type OrderStatus,
  toHex,
} from '@allot/protocol'
import type { Command } from 'commander'
import { AllotClient } from '../../client/index.js'
import { keyNeedsPassword, loadSecpKey } from '../../config/index.js'
import { formatAssetAmount } from '../amounts.js'
import { filledText } from '../status.js'
import { type SubmitFlags, submitFile, submitOne, validBatchesOf } from '../submit.js'
import type { RegisterCommands } from './index.js'
import { keyPassword } from './keys.js'

const FINAL = new Set(['filled', 'partially_filled', 'unfilled', 'expired', 'cancelled', 'rejected'])

export async function withClient<T>(node: string, f: (c: AllotClient) => Promise<T>): Promise<T> {
  const c = await AllotClient.connect(node)
  try {
    return await f(c)
  } finally {
    await c.close()
  }
}

export async function loadCliKey(ref: string) {
  const password = keyNeedsPassword(ref)
    ? (process.env.ALLOT_KEY_PASSWORD ?? (await keyPassword('key')))
    : undefined
  return loadSecpKey(ref, password)
}

function orderId(v: string): Hex {
  if (!isBytes32(v)) throw new AllotError('CLI_BAD_FLAG', `not an order id (0x + 64 hex): ${v}`)
  return v.toLowerCase() as Hex
}

export function statusJson(s: OrderStatus): Record<string, unknown> {
  const out: Record<string, unknown> = { orderId: s.orderId, status: s.status }
  if (s.batch !== null) out.batch = s.batch.toString()
  if (s.filled) out.filled = { sold: s.filled.sold.toString(), bought: s.filled.bought.toString() }
  out.settlement = s.txHash ? { txHash: s.txHash } : null
  if (s.error) out.error = s.error
  return out
}

function printStatus(s: OrderStatus, json: boolean, filled?: string): void {
  if (json) process.stdout.write(`${JSON.stringify(statusJson(s))}\n`)
  else {
    const parts = [`${s.orderId}  ${s.status}`]
    if (s.batch !== null) parts.push(`batch ${s.batch}`)
    if (s.filled) parts.push(filled ?? `sold ${s.filled.sold} bought ${s.filled.bought} (base units)`)
    if (s.txHash) parts.push(`tx ${s.txHash}`)
    if (s.error) parts.push(`${s.error.code}: ${s.error.message}`)
    process.stdout.write(`${parts.join('  ')}\n`)
  }
}

export function balanceJson(b: BalanceView, symbols: Map<string, string>): Record<string, unknown> {
  const balances: Record<string, unknown> = {}
  for (const x of b.balances) {
    balances[symbols.get(x.asset) ?? x.asset] = {
      escrow: x.escrow.toString(),
      available: x.available.toString(),
      pendingWithdrawal: x.pendingWithdrawal.toString(),
    }
  }
  return { address: b.address, balances }
}

export const registerOrderCommands: RegisterCommands = (program: Command) => {
  const order = program.command('order').description('submit, cancel and follow orders')
  order
    .command('submit')
    .description(
      'check, sign and submit an order (sealed to the target batch key when the network seals, docs/sealing.md)',
    )
    .requiredOption('--node <api-multiaddr>', "the node's API multiaddr (…/p2p/<peer id>)")
    .requiredOption('--key <key>', 'trader key: keystore file or (devnets) raw hex')
    .option(
      '--sell <amount...>',
      'what to sell: "100 TKA" or TKA:100, in the asset’s decimals (…wei: base units)',
    )
    .option('--buy <amount...>', 'what to buy at least (the limit), as --sell')
    .option(
      '--in <orders.json>',
      'many orders from a JSON array of { sell, buy, kind?, partial?, batch?, validBatches? }',
    )
    .option('--raw', 'amounts are in base units (the asset’s smallest unit), as before')
    .option('--kind <kind>', 'sell | buy', 'sell')
    .option('--partial', 'partially fillable')
    .option(
      '--batch <height|+N>',
      'target batch, or +N after the first one the order can reach (default: that one)',
    )
    .option('--valid-batches <n>', 'batches in all the remainder may rest (default 1: one-shot)', '1')
    .option(
      '--no-retry',
      'return once acknowledged; do not follow the order or seal it again if it misses its batch',
    )
    .option('-q, --quiet', 'print only the order id (scripts: A=$(allot order submit … -q))')
    .option('--json', 'print JSON')
    .action(async (o: SubmitFlags) => {
      // flags first: nothing is dialed for an order the client would refuse anyway
      if (o.in === undefined) validBatchesOf(o.validBatches)
      const key = await loadCliKey(o.key)
      const out = (line: string) => process.stdout.write(`${line}\n`)
      await withClient(o.node, (client) =>
        o.in === undefined ? submitOne(o, { client, key, out }) : submitFile(o, { client, key, out }),
      )
    })

  order
    .command('cancel <orderId>')
    .description('cancel a pending order with a signed cancellation')
    .requiredOption('--node <api-multiaddr>', "the node's API multiaddr")
    .requiredOption('--key <key>', 'the trader key that signed the order')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { node: string; key: string; json?: boolean }) => {
      const key = await loadCliKey(o.key)
      const r = await withClient(o.node, (c) => c.cancel(orderId(id), key))
      if (o.json) process.stdout.write(`${JSON.stringify({ orderId: r.orderId, status: 'cancelled' })}\n`)
      else process.stdout.write(`${r.orderId}  cancelled\n`)
    })

  order
    .command('invalidate <orderDigest>')
    .description(
      'cancel an order on chain, whatever the validators do (its EIP-712 digest: `order submit --json` prints it)',
    )
    .requiredOption('--key <key>', 'the trader key that signed the order (it pays the transaction)')
    .option('--node <api-multiaddr>', "a node's API multiaddr (the chain RPC and contract come from it)")
    .option('--rpc-url <url>', 'chain JSON-RPC URL (instead of, or overriding, the node’s)')
    .option('--settlement <address>', 'settlement contract address (without --node)')
    .option('--json', 'print JSON')
    .action(
      async (
        d: string,
        o: { key: string; node?: string; rpcUrl?: string; settlement?: string; json?: boolean },
      ) => {
        if (!isBytes32(d))
          throw new AllotError('CLI_BAD_FLAG', `order digest must be 0x + 64 hex digits, got ${d}`)
        const { connectChain, invalidateOrder, readInvalidatedAt } = await import('../../settlement/index.js')
        let rpcUrl = o.rpcUrl
        let settlement = o.settlement
        let chainId: number | undefined
        if (o.node) {
          const info = await withClient(o.node, (c) => c.info())
          rpcUrl ??= info.rpcUrl ?? undefined
          settlement ??= info.settlement
          chainId = Number(info.chainId)
        }
        if (!rpcUrl || !settlement)
          throw new AllotError('CLI_BAD_FLAG', 'give --node, or --rpc-url and --settlement')
        if (!isAddress(settlement))
          throw new AllotError('CLI_BAD_FLAG', `--settlement must be an address, got ${settlement}`)
        const key = await loadCliKey(o.key)
        const c = await connectChain({ rpcUrl, chainId, privateKey: toHex(key) })
        const txHash = await invalidateOrder(c, settlement as Address, d as Hex)
        const [atBlock] = await readInvalidatedAt(c, settlement as Address, [
          { trader: addressOf(key), digest: d as Hex },
        ])
        if (o.json)
          process.stdout.write(`${JSON.stringify({ orderDigest: d, txHash, atBlock: atBlock.toString() })}\n`)
        else process.stdout.write(`${d}  invalidated on chain at block ${atBlock}  (tx ${txHash})\n`)
      },
    )

  order
    .command('status <orderId>')
    .description('an order’s status')
    .requiredOption('--node <api-multiaddr>', "the node's API multiaddr")
    .option('--json', 'print JSON')
    .action(async (id: string, o: { node: string; json?: boolean }) => {
      await withClient(o.node, async (c) => {
        const s = await c.status(orderId(id))
        printStatus(s, o.json === true, o.json ? undefined : await filledText(c, s))
      })
    })

  order
    .command('watch <orderId>')
    .description('print the order’s status whenever it changes, until a final status')
    .requiredOption('--node <api-multiaddr>', "the node's API multiaddr")
    .option('--interval <ms>', 'poll interval', '500')
    .option('--json', 'one JSON object per line')
    .action(async (id: string, o: { node: string; interval: string; json?: boolean }) => {
      if (!/^[1-9][0-9]*$/.test(o.interval))
        throw new AllotError(
          'CLI_BAD_FLAG',
          `--interval must be a number of milliseconds ≥ 1, got ${o.interval}`,
        )
      await withClient(o.node, async (c) => {
        let last = ''
        for (;;) {
          const s = await c.status(orderId(id))
          const key = JSON.stringify(statusJson(s))
          if (key !== last) printStatus(s, o.json === true, o.json ? undefined : await filledText(c, s))
          last = key
          if (FINAL.has(s.status)) return
          await new Promise((r) => setTimeout(r, Number(o.interval)))
        }
      })
    })

  program
    .command('balance <address>')
    .description('escrow, available and pending-withdrawal balances of an address')
    .requiredOption('--node <api-multiaddr>', "the node's API multiaddr")
    .option('--json', 'print JSON')
    .action(async (address: string, o: { node: string; json?: boolean }) => {
      if (!isAddress(address)) throw new AllotError('CLI_BAD_FLAG', `not an address: ${address}`)
      const [b, info] = await withClient(
        o.node,
        async (c) => [await c.balances(address as Address), await c.info()] as const,
      )
      const symbols = new Map(info.assets.map((a) => [a.assetId as string, a.symbol]))
      const j = balanceJson(b, symbols)
      if (o.json) process.stdout.write(`${JSON.stringify(j)}\n`)
      else {
        process.stdout.write(`${b.address}\n`)
        for (const [sym, v] of Object.entries(j.balances as Record<string, Record<string, string>>)) {
          const d = (x: string) => formatAssetAmount(info.assets, sym, x)
          process.stdout.write(
            `  ${sym.padEnd(16)} escrow ${d(v.escrow)}  available ${d(v.available)}  pending withdrawal ${d(v.pendingWithdrawal)}\n`,
          )
        }
      }
    })
}
