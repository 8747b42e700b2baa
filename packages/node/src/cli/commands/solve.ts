import { readFileSync } from 'node:fs'
import { AllotError } from '@allot/protocol'
import { clearBatch, formatSolveOutput, parseBatchFile, verifyResult } from '@allot/solver'
import type { Command } from 'commander'
import type { RegisterCommands } from './index.js'

/** `allot solve --in <batch.json> [--json]` (CLI.md "Offline solving"): the validators' solver, offline. */
export const registerSolveCommands: RegisterCommands = (program: Command) => {
  program
    .command('solve')
    .description(
      "clear one batch offline with the validators' solver (batch file format: packages/solver/README.md)",
    )
    .requiredOption('--in <file>', 'batch file: { numeraire, orders, balances, previousPrices? }')
    .option('--json', 'print the result as one JSON document')
    .action((o: { in: string; json?: boolean }) => {
      let text: string
      try {
        text = readFileSync(o.in, 'utf8')
      } catch (e) {
        throw new AllotError('SOLVER_INPUT_UNREADABLE', `cannot read ${o.in}: ${(e as Error).message}`)
      }
      const input = parseBatchFile(text)
      const started = performance.now()
      const out = clearBatch(input)
      // Every result is checked by the independent verifier, as a validator would.
      verifyResult(input, out)
      const ms = performance.now() - started
      const doc = formatSolveOutput(out)
      if (o.json) {
        process.stdout.write(`${JSON.stringify(doc)}\n`)
        return
      }
      const filled = out.fills.filter((f) => f.sold > 0n)
      const lines = [
        `orders ${input.orders.length}  filled ${filled.length}  dropped ${out.dropped.length}  (${ms.toFixed(0)} ms)`,
        'prices:',
        ...Object.entries(doc.prices as Record<string, string>).map(([a, p]) => `  ${a.padEnd(16)} ${p}`),
        'fills:',
        ...filled.map(
          (f) => `  ${f.id.padEnd(24)} sold ${f.sold} ${f.sellAsset}  bought ${f.bought} ${f.buyAsset}`,
        ),
        ...(out.dropped.length > 0
          ? ['dropped:', ...out.dropped.map((d) => `  ${d.id.padEnd(24)} ${d.reason}`)]
          : []),
        `objective ${out.objective}`,
        `resultHash ${out.resultHash}`,
      ]
      process.stdout.write(`${lines.join('\n')}\n`)
    })
}
