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

/** `ASSET:amount` (CLI.md); the amount is a decimal string in the asset's smallest unit. */
export function parseLeg(v: string, flag: string): { asset: string; amount: bigint } {
  const i = v.lastIndexOf(':')
  if (i <= 0) throw new AllotError('CLI_BAD_FLAG', `${flag} must be ASSET:amount, got ${v}`)
  const amount = v.slice(i + 1)
  if (!/^[0-9]+$/.test(amount))
    throw new AllotError('ORDER_BAD_AMOUNT', `${flag} amount must be a decimal integer, got ${amount}`)
  return { asset: v.slice(0, i), amount: BigInt(amount) }
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

function printStatus(s: OrderStatus, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(statusJson(s))}\n`)
  else {
    const parts = [`${s.orderId}  ${s.status}`]
    if (s.batch !== null) parts.push(`batch ${s.batch}`)
    if (s.filled) parts.push(`sold ${s.filled.sold} bought ${s.filled.bought}`)
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

interface SubmitOptions {
  node: string
  key: string
  sell: string
  buy: string
  kind: string
  partial?: boolean
  batch?: string
  validBatches: string
  json?: boolean
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
    .requiredOption('--sell <ASSET:amount>', 'what to sell, in the asset’s smallest unit')
    .requiredOption('--buy <ASSET:amount>', 'what to buy (the limit), in the asset’s smallest unit')
    .option('--kind <kind>', 'sell | buy', 'sell')
    .option('--partial', 'partially fillable')
    .option('--batch <height>', 'target batch (default: the first open one)')
    .option('--valid-batches <n>', 'batches in all the remainder may rest (default 1: one-shot)', '1')
    .option('--json', 'print JSON')
    .action(async (o: SubmitOptions) => {
      const sell = parseLeg(o.sell, '--sell')
      const buy = parseLeg(o.buy, '--buy')
      if (o.kind !== 'sell' && o.kind !== 'buy')
        throw new AllotError('CLI_BAD_FLAG', '--kind must be sell or buy')
      if (o.batch !== undefined && !/^[0-9]+$/.test(o.batch))
        throw new AllotError('ORDER_BAD_BATCH', '--batch must be a height')
      if (!/^[1-9][0-9]*$/.test(o.validBatches))
        throw new AllotError(
          'ORDER_BAD_BATCH',
          `--valid-batches must be an integer ≥ 1, got ${o.validBatches}`,
        )
      const key = await loadCliKey(o.key)
      const r = await withClient(o.node, (c) =>
        c.submitOrder(
          {
            sell: sell.asset,
            sellAmount: sell.amount,
            buy: buy.asset,
            buyAmount: buy.amount,
            kind: o.kind as 'sell' | 'buy',
            partiallyFillable: o.partial === true,
            batch: o.batch === undefined ? undefined : BigInt(o.batch),
            validBatches: Number(o.validBatches),
          },
          key,
        ),
      )
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ orderId: r.orderId, targetBatch: r.targetBatch.toString(), status: r.status, orderDigest: r.orderDigest })}\n`,
        )
      } else process.stdout.write(`${r.orderId}  pending  batch ${r.targetBatch}  (${addressOf(key)})\n`)
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
      printStatus(await withClient(o.node, (c) => c.status(orderId(id))), o.json === true)
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
          if (key !== last) printStatus(s, o.json === true)
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
          process.stdout.write(
            `  ${sym.padEnd(16)} escrow ${v.escrow}  available ${v.available}  pending withdrawal ${v.pendingWithdrawal}\n`,
          )
        }
      }
    })
}
