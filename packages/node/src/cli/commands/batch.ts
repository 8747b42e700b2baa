import { AllotError, type BatchView, type NodeInfo } from '@allot/protocol'
import type { Command } from 'commander'
import { formatAssetAmount } from '../amounts.js'
import type { RegisterCommands } from './index.js'
import { withClient } from './orders.js'

/** `batch show --json` shape of CLI.md. */
export function batchJson(b: BatchView, info: NodeInfo): Record<string, unknown> {
  const sym = new Map(info.assets.map((a) => [a.assetId as string, a.symbol]))
  const name = (id: string) => sym.get(id) ?? id
  return {
    height: b.height.toString(),
    orderCount: b.orderCount,
    prices: Object.fromEntries(b.prices.map((p) => [name(p.asset), p.price.toString()])),
    fills: b.fills.map((f) => ({
      orderId: f.orderId,
      trader: f.trader,
      sellAsset: name(f.sellAsset),
      buyAsset: name(f.buyAsset),
      sold: f.sold.toString(),
      bought: f.bought.toString(),
    })),
    resultHash: b.resultHash,
    certificate: { signers: b.signers },
    settlement: b.settlement ? { txHash: b.settlement.txHash, status: b.settlement.status } : null,
  }
}

function printBatch(b: BatchView, info: NodeInfo, json: boolean): void {
  const j = batchJson(b, info)
  if (json) {
    process.stdout.write(`${JSON.stringify(j)}\n`)
    return
  }
  process.stdout.write(
    `batch ${j.height}  orders ${j.orderCount}  fills ${b.fills.length}  result ${b.resultHash ?? '-'}\n`,
  )
  for (const [a, p] of Object.entries(j.prices as Record<string, string>))
    process.stdout.write(`  price ${a.padEnd(16)} ${p}\n`)
  for (const f of j.fills as Record<string, string>[]) {
    process.stdout.write(
      `  fill ${f.orderId} ${f.trader} sold ${formatAssetAmount(info.assets, f.sellAsset, f.sold)} ${f.sellAsset} bought ${formatAssetAmount(info.assets, f.buyAsset, f.bought)} ${f.buyAsset}\n`,
    )
  }
  if (b.settlement) process.stdout.write(`  settlement ${b.settlement.txHash} ${b.settlement.status}\n`)
}

export const registerBatchCommands: RegisterCommands = (program: Command) => {
  const batch = program.command('batch').description('finalized batches')
  batch
    .command('show <height>')
    .description('a finalized batch (a height or "latest")')
    .requiredOption('--node <api-multiaddr>', "the node's API multiaddr")
    .option('--json', 'print JSON')
    .action(async (h: string, o: { node: string; json?: boolean }) => {
      if (h !== 'latest' && !/^[0-9]+$/.test(h))
        throw new AllotError('CLI_BAD_FLAG', 'height must be a number or "latest"')
      await withClient(o.node, async (c) => {
        const b = await c.batch(h === 'latest' ? 'latest' : BigInt(h))
        printBatch(b, await c.info(), o.json === true)
      })
    })
  batch
    .command('export')
    .description('processed batches as a backtest history, JSON Lines (docs/backtest.md)')
    .requiredOption('--node <api-multiaddr>', "a validator's API multiaddr")
    .requiredOption('--from <height>', 'first height')
    .requiredOption('--to <height>', 'last height')
    .option('--out <file>', 'write the history here (default: stdout)')
    .action(async (o: { node: string; from: string; to: string; out?: string }) => {
      const height = (v: string, flag: string) => {
        if (!/^[0-9]+$/.test(v)) throw new AllotError('CLI_BAD_FLAG', `${flag}: expected a height`)
        return BigInt(v)
      }
      const range = { from: height(o.from, '--from'), to: height(o.to, '--to') }
      const { exportBatches } = await import('./batch-export.js')
      const n = await withClient(o.node, (c) => exportBatches(c, range, o.out))
      if (o.out) process.stderr.write(`${n} batches → ${o.out}\n`)
    })
  batch
    .command('watch')
    .description('one line per finalized batch, until interrupted')
    .requiredOption('--node <api-multiaddr>', "the node's API multiaddr")
    .option('--json', 'one JSON object per line')
    .action(async (o: { node: string; json?: boolean }) => {
      const ctl = new AbortController()
      const stop = () => ctl.abort()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      await withClient(o.node, async (c) => {
        const info = await c.info()
        for await (const b of c.watchBatches(ctl.signal)) printBatch(b, info, o.json === true)
      })
    })
}
