import { AllotError } from '@allot/protocol'
import type { Command } from 'commander'
import type { RegisterCommands } from './index.js'

/**
 * `allot simulate` and `allot backtest` (docs/backtest.md): the backtest package is loaded inside the
 * actions, so the rest of the CLI does not pay for it.
 */
export const registerBacktestCommands: RegisterCommands = (program: Command) => {
  program
    .command('simulate')
    .description('generate a seeded agent-based market history (JSONL, docs/backtest.md)')
    .requiredOption('--out <file>', 'history file to write')
    .option('--seed <n>', 'PRNG seed', '1')
    .option('--batches <n>', 'number of batches', '200')
    .option('--interval-ms <ms>', 'batch interval', '1000')
    .option(
      '--assets <list>',
      'risky assets NAME:start:vol (vol per √batch), comma-separated',
      'ETH:3000:0.002,BTC:60000:0.0015',
    )
    .option('--correlation <rho>', 'pairwise correlation of the assets’ shocks', '0.6')
    .option(
      '--prices <csv>',
      'a price series instead of GBM (header: asset names; one row per batch, plus the start)',
    )
    .option('--noise-orders <n>', 'noise-trader orders per batch', '20')
    .option('--makers <n>', 'market makers', '3')
    .option('--informed <n>', 'informed traders', '2')
    .option('--no-resource', 'leave out the compute-hour market')
    .action(async (o: Record<string, string | boolean>) => {
      const { readFileSync, writeFileSync } = await import('node:fs')
      const bt = await import('@allot/backtest')
      const p = structuredClone(bt.DEFAULT_SIMULATION)
      p.seed = int(o.seed, 'seed')
      p.batches = int(o.batches, 'batches')
      p.intervalMs = int(o.intervalMs, 'interval-ms')
      p.assets = String(o.assets)
        .split(',')
        .map((s) => {
          const [name, start, vol] = s.split(':')
          if (!name || !(Number(start) > 0) || !(Number(vol) >= 0))
            throw new AllotError('CLI_BAD_FLAG', `--assets: expected NAME:start:vol, got ${s}`)
          return { name, start: Number(start), vol: Number(vol) }
        })
      p.correlation = Number(o.correlation)
      if (typeof o.prices === 'string') p.path = bt.parsePriceCsv(readFileSync(o.prices, 'utf8'))
      p.noise.ordersPerBatch = int(o.noiseOrders, 'noise-orders')
      p.makers.traders = int(o.makers, 'makers')
      p.informed.traders = int(o.informed, 'informed')
      if (o.resource === false) delete p.resource
      const h = bt.simulate(p)
      writeFileSync(String(o.out), bt.serializeHistory(h))
      const orders = h.batches.reduce((s, b) => s + b.orders.length, 0)
      process.stdout.write(`${h.batches.length} batches, ${orders} orders → ${o.out}\n`)
    })

  program
    .command('backtest <history>')
    .description(
      'replay a history (JSONL, or a directory of `allot solve` batch files such as the GP v1 ones) through the solver and a continuous book',
    )
    .option(
      '--config <spec>',
      'a configuration, repeatable: name=…,interval=<ms>,fee=<bps>,maxOrders=<n>,maxFills=<n>,prev=none|reference,numeraire=<asset>',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--compare <spec>', 'a second configuration shown side by side with the first')
    .option('--threads <n>', 'worker threads (default: the cores)')
    .option('--html <file>', 'write the HTML report')
    .option('--json <file>', 'write the JSON report')
    .action(
      async (
        path: string,
        o: { config: string[]; compare?: string; threads?: string; html?: string; json?: string },
      ) => {
        const { readdirSync, readFileSync, statSync, writeFileSync } = await import('node:fs')
        const { basename, join } = await import('node:path')
        const bt = await import('@allot/backtest')
        let history: import('@allot/backtest').History
        if (statSync(path).isDirectory()) {
          const names = readdirSync(path)
            .filter((f) => f.endsWith('.json'))
            .sort()
          history = bt.historyOfBatchFiles(
            names.map((name) => ({ name, text: readFileSync(join(path, name), 'utf8') })),
          )
        } else history = bt.parseHistory(readFileSync(path, 'utf8'))
        const configs = o.config.map(parseConfig)
        if (configs.length === 0) configs.push({ name: 'as recorded' })
        if (o.compare) configs.splice(1, 0, parseConfig(o.compare))
        const runs = await bt.runBacktest(
          history,
          configs,
          o.threads ? { threads: int(o.threads, 'threads') } : {},
        )
        const title = `allot backtest: ${basename(path)}`
        if (o.html) writeFileSync(o.html, bt.reportHtml({ title, header: history.header, runs }))
        if (o.json)
          writeFileSync(
            o.json,
            `${JSON.stringify(bt.reportJson({ title, header: history.header, runs }), null, 1)}\n`,
          )
        const rows: [string, (t: import('@allot/backtest').Totals) => string][] = [
          ['batches', (t) => String(t.batches)],
          ['orders filled', (t) => `${t.filledOrders} / ${t.orders}`],
          ['volume', (t) => t.volume.toPrecision(6)],
          ['surplus', (t) => t.surplus.toPrecision(6)],
          ['mean |price error|', (t) => `${(t.meanAbsPriceError * 100).toFixed(3)} %`],
          ['batches with arbitrage', (t) => String(t.batchesWithArbitrage)],
        ]
        for (const run of runs) {
          process.stdout.write(
            `\n${run.config.name}: ${run.batches.length} batches in ${run.wallMs.toFixed(0)} ms on ${run.threads} thread(s)\n`,
          )
          process.stdout.write(`  ${''.padEnd(24)} ${'batch'.padStart(16)} ${'continuous'.padStart(16)}\n`)
          for (const [label, f] of rows)
            process.stdout.write(
              `  ${label.padEnd(24)} ${f(run.totals.batch).padStart(16)} ${f(run.totals.continuous).padStart(16)}\n`,
            )
        }
      },
    )
}

function int(v: unknown, flag: string): number {
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0)
    throw new AllotError('CLI_BAD_FLAG', `--${flag}: expected a non-negative integer`)
  return n
}

function parseConfig(spec: string): import('@allot/backtest').MechanismConfig {
  const c: import('@allot/backtest').MechanismConfig = { name: spec }
  for (const part of spec.split(',')) {
    const [k, v] = part.split('=')
    if (v === undefined) throw new AllotError('CLI_BAD_FLAG', `--config: expected key=value, got ${part}`)
    if (k === 'name') c.name = v
    else if (k === 'interval') c.intervalMs = int(v, 'config interval')
    else if (k === 'fee') c.feeBps = int(v, 'config fee')
    else if (k === 'maxOrders') c.maxOrdersPerBatch = int(v, 'config maxOrders')
    else if (k === 'maxFills') c.maxFillsPerBatch = int(v, 'config maxFills')
    else if (k === 'prev' && (v === 'none' || v === 'reference')) c.previousPrices = v
    else if (k === 'numeraire') c.numeraire = v
    else throw new AllotError('CLI_BAD_FLAG', `--config: unknown setting ${part}`)
  }
  return c
}
