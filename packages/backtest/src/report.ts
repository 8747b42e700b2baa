import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { HistoryHeader } from './history.js'
import type { ConfigRun, Totals } from './replay.js'

/**
 * The reports (docs/backtest.md "Reports"): JSON for scripts and one self-contained HTML page for
 * people, with Chart.js inlined from node_modules so the page opens with no network at all. The only
 * I/O of the package besides its worker threads is reading that one file.
 */
export interface ReportInput {
  title: string
  header: HistoryHeader
  runs: ConfigRun[]
}

/** The report as JSON: totals per configuration, every batch's figures, per-trader outcomes, agents. */
export function reportJson(r: ReportInput): unknown {
  return {
    title: r.title,
    source: r.header.source,
    numeraire: r.header.numeraire,
    runs: r.runs.map((run) => ({
      config: run.config,
      threads: run.threads,
      wallMs: run.wallMs,
      solveMs: run.solveMs,
      totals: run.totals,
      batches: run.batches.map(({ traders: _t, ...b }) => b),
      traders: run.traders,
      agents: run.agents,
    })),
  }
}

let chartJs: string | undefined
function chartJsSource(): string {
  if (chartJs === undefined) {
    const require = createRequire(import.meta.url)
    const file = join(dirname(require.resolve('chart.js')), 'chart.umd.min.js')
    chartJs = readFileSync(file, 'utf8').replaceAll('</script', '<\\/script')
  }
  return chartJs
}

const esc = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  if (a !== 0 && (a >= 1e9 || a < 1e-3)) return x.toExponential(3)
  return x.toLocaleString('en-US', { maximumFractionDigits: a < 1 ? 4 : 2 })
}
const pct = (x: number) => `${(x * 100).toFixed(2)} %`

const ROWS: [Exclude<keyof Totals, 'priceErrorByAsset'>, string, (x: number) => string][] = [
  ['batches', 'batches', fmt],
  ['orders', 'orders', fmt],
  ['filledOrders', 'orders filled', fmt],
  ['fillRate', 'fill rate (orders)', pct],
  ['valueFillRate', 'fill rate (value, mean per batch)', pct],
  ['volume', 'volume', fmt],
  ['surplus', 'trader surplus', fmt],
  ['fees', 'fees', fmt],
  ['meanAbsPriceError', 'mean |price − reference|', pct],
  ['meanSpread', 'mean price spread within a batch', pct],
  ['batchesWithArbitrage', 'batches left with arbitrage', fmt],
  ['crossedPairs', 'pairs left crossed', fmt],
  ['arbitrageValue', 'arbitrage left (estimate)', fmt],
]

/** Mean per-trader outcome by agent class: [traders, mean surplus, mean markout]. */
function byAgent(run: ConfigRun, side: 'batch' | 'continuous'): Record<string, [number, number, number]> {
  const out: Record<string, [number, number, number]> = {}
  for (const [t, [s, m]] of Object.entries(run.traders[side])) {
    const cls = run.agents[t] ?? 'trader'
    const acc = out[cls] ?? [0, 0, 0]
    acc[0]++
    acc[1] += s
    acc[2] += m
    out[cls] = acc
  }
  for (const acc of Object.values(out)) {
    acc[1] /= acc[0]
    acc[2] /= acc[0]
  }
  return out
}

/** A histogram of per-trader outcomes, the same bins for every series. */
function histogram(series: number[][], bins = 24): { labels: string[]; counts: number[][] } {
  const all = series.flat().filter(Number.isFinite)
  if (all.length === 0) return { labels: [], counts: series.map(() => []) }
  // clip at the 2nd and 98th percentiles so one whale does not flatten the picture
  const sorted = [...all].sort((a, b) => a - b)
  const lo = sorted[Math.floor(0.02 * (sorted.length - 1))]
  const hi = sorted[Math.ceil(0.98 * (sorted.length - 1))]
  const width = (hi - lo) / bins || 1
  const labels = Array.from({ length: bins }, (_, k) => fmt(lo + (k + 0.5) * width))
  const counts = series.map((xs) => {
    const c = new Array<number>(bins).fill(0)
    for (const x of xs) c[Math.min(bins - 1, Math.max(0, Math.floor((x - lo) / width)))]++
    return c
  })
  return { labels, counts }
}

export function reportHtml(r: ReportInput): string {
  const { runs, header } = r
  const hasReference = runs.some((run) => run.batches.some((b) => b.reference))
  // Outcome: markout at the next reference where there is one, else surplus at the batch's own prices.
  const outcomeIndex = hasReference ? 1 : 0
  const outcomeName = hasReference ? 'markout at the next reference' : 'surplus at the batch’s prices'
  const assets = hasReference
    ? Object.keys(runs[0].batches.find((b) => b.reference)?.reference ?? {}).filter(
        (a) => a !== header.numeraire,
      )
    : []
  // x is time (a batch's close, s): configurations with other intervals line up
  const xy = (run: ConfigRun, y: (b: ConfigRun['batches'][number]) => number | undefined) =>
    run.batches.map((b) => ({ x: b.t / 1000, y: y(b) ?? null }))
  const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b']
  const charts: unknown[] = []
  for (const a of assets.slice(0, 4)) {
    const ds: unknown[] = [
      {
        label: `${a} reference`,
        data: xy(runs[0], (b) => b.reference?.[a]),
        borderColor: '#444',
        borderDash: [4, 3],
        pointRadius: 0,
      },
    ]
    runs.forEach((run, i) => {
      ds.push({
        label: `${a} batch (${run.config.name})`,
        data: xy(run, (b) => b.batch.prices[a]),
        borderColor: palette[(2 * i) % 6],
        pointRadius: 0,
        spanGaps: true,
      })
      ds.push({
        label: `${a} continuous VWAP (${run.config.name})`,
        data: xy(run, (b) => b.continuous.prices[a]),
        borderColor: palette[(2 * i + 1) % 6],
        pointRadius: 0,
        spanGaps: true,
      })
    })
    charts.push({
      id: `price-${a}`,
      title: `${a}: clearing price vs reference (${header.numeraire} per unit; x: seconds)`,
      type: 'line',
      xy: true,
      datasets: ds,
    })
  }
  const perBatch = (key: 'surplus' | 'fillRate', title: string, cumulative: boolean) => {
    const ds: unknown[] = []
    const series = (run: ConfigRun, side: 'batch' | 'continuous') => {
      let acc = 0
      return xy(run, (b) => (cumulative ? (acc += b[side][key]) : b[side][key]))
    }
    runs.forEach((run, i) => {
      const c = palette[(2 * i) % 6]
      const d = palette[(2 * i + 1) % 6]
      ds.push({
        label: `batch (${run.config.name})`,
        data: series(run, 'batch'),
        borderColor: c,
        pointRadius: 0,
      })
      ds.push({
        label: `continuous (${run.config.name})`,
        data: series(run, 'continuous'),
        borderColor: d,
        pointRadius: 0,
      })
    })
    charts.push({ id: key, title, type: 'line', xy: true, datasets: ds })
  }
  perBatch('surplus', `Trader surplus, cumulative (${header.numeraire}; x: seconds)`, true)
  perBatch('fillRate', 'Fill rate per batch (orders with a fill; x: seconds)', false)
  const series: number[][] = []
  const names: string[] = []
  for (const run of runs)
    for (const side of ['batch', 'continuous'] as const) {
      series.push(Object.values(run.traders[side]).map((v) => v[outcomeIndex]))
      names.push(`${side} (${run.config.name})`)
    }
  const h = histogram(series)
  charts.push({
    id: 'outcomes',
    title: `Distribution of per-trader outcomes: ${outcomeName} (${header.numeraire}, 2nd–98th percentile)`,
    type: 'bar',
    labels: h.labels,
    datasets: h.counts.map((c, i) => ({ label: names[i], data: c, backgroundColor: `${palette[i % 6]}99` })),
  })
  const agentRows = runs.map((run) => ({
    name: run.config.name,
    batch: byAgent(run, 'batch'),
    continuous: byAgent(run, 'continuous'),
  }))
  const classes = [...new Set(agentRows.flatMap((a) => Object.keys(a.batch)))].sort()
  charts.push({
    id: 'agents',
    title: `Batch vs continuous: mean ${outcomeName} per trader, by agent class (${header.numeraire})`,
    type: 'bar',
    labels: classes,
    datasets: agentRows.flatMap((a, i) => [
      {
        label: `batch (${a.name})`,
        data: classes.map((c) => a.batch[c]?.[outcomeIndex + 1] ?? 0),
        backgroundColor: palette[(2 * i) % 6],
      },
      {
        label: `continuous (${a.name})`,
        data: classes.map((c) => a.continuous[c]?.[outcomeIndex + 1] ?? 0),
        backgroundColor: palette[(2 * i + 1) % 6],
      },
    ]),
  })

  const totalsHead = runs
    .map((run) => `<th>batch<br>${esc(run.config.name)}</th><th>continuous<br>${esc(run.config.name)}</th>`)
    .join('')
  const totalsRows = ROWS.map(
    ([k, label, f]) =>
      `<tr><td>${esc(label)}</td>${runs.map((run) => `<td>${f(run.totals.batch[k])}</td><td>${f(run.totals.continuous[k])}</td>`).join('')}</tr>`,
  ).join('\n')
  const errAssets = [
    ...new Set(
      runs.flatMap((run) => [
        ...Object.keys(run.totals.batch.priceErrorByAsset),
        ...Object.keys(run.totals.continuous.priceErrorByAsset),
      ]),
    ),
  ].sort()
  const cell = (x: number | undefined) => `<td>${x === undefined ? '–' : pct(x)}</td>`
  const errRows = errAssets
    .map(
      (a) =>
        `<tr><td>mean |price − reference|: ${esc(a)}</td>${runs.map((run) => cell(run.totals.batch.priceErrorByAsset[a]) + cell(run.totals.continuous.priceErrorByAsset[a])).join('')}</tr>`,
    )
    .join('\n')
  const configRows = runs
    .map(
      (run) =>
        `<tr><td>${esc(run.config.name)}</td><td>${esc(JSON.stringify({ ...run.config, name: undefined }))}</td><td>${run.batches.length}</td><td>${fmt(run.wallMs)} ms on ${run.threads} thread(s); solver ${fmt(run.solveMs)} ms</td></tr>`,
    )
    .join('\n')
  const agentTable = classes.length
    ? `<table><tr><th>agent class</th>${agentRows.map((a) => `<th>traders</th><th>batch (${esc(a.name)})</th><th>continuous (${esc(a.name)})</th>`).join('')}</tr>
${classes
  .map(
    (c) =>
      `<tr><td>${esc(c)}</td>${agentRows.map((a) => `<td>${a.batch[c]?.[0] ?? 0}</td><td>${fmt(a.batch[c]?.[outcomeIndex + 1] ?? 0)}</td><td>${fmt(a.continuous[c]?.[outcomeIndex + 1] ?? 0)}</td>`).join('')}</tr>`,
  )
  .join('\n')}</table>`
    : ''
  const data = JSON.stringify(charts).replaceAll('<', '\\u003c')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; } .chart { height: 300px; margin: 8px 0 20px; } .note { color: #666; }
</style></head><body>
<h1>${esc(r.title)}</h1>
<p class="note">History: ${esc(header.source)}, numeraire ${esc(header.numeraire)}, ${Object.keys(header.assets).length} assets.
Each configuration clears its batches with the validators' solver (<code>clearBatch</code>); “continuous” is the same orders in arrival order through a price-time priority book per pair (docs/backtest.md).
${hasReference ? '' : 'The history has no reference prices: price errors are not measured, and outcomes are valued at each batch’s clearing prices.'}</p>
<h2>Configurations</h2>
<table><tr><th>name</th><th>settings</th><th>batches</th><th>replay</th></tr>
${configRows}</table>
<h2>Totals: batch vs continuous</h2>
<table><tr><th>measure</th>${totalsHead}</tr>
${totalsRows}
${errRows}</table>
${charts.map((c) => `<h2>${esc((c as { title: string }).title)}</h2><div class="chart"><canvas id="${esc((c as { id: string }).id)}"></canvas></div>`).join('\n')}
<h2>Per-trader outcome by agent class: ${esc(outcomeName)}</h2>
${agentTable}
<script>${chartJsSource()}</script>
<script>
const charts = ${data};
Chart.defaults.animation = false;
for (const c of charts) {
  new Chart(document.getElementById(c.id), {
    type: c.type,
    data: { ...(c.labels ? { labels: c.labels } : {}), datasets: c.datasets.map((d) => ({ borderWidth: 1.5, fill: false, ...d })) },
    options: { maintainAspectRatio: false, responsive: true, interaction: { mode: c.xy ? 'nearest' : 'index', intersect: false },
      plugins: { legend: { labels: { boxWidth: 12 } } }, scales: { x: { ...(c.xy ? { type: 'linear' } : {}), ticks: { maxTicksLimit: 20 } } } },
  });
}
document.body.dataset.rendered = 'yes';
</script>
</body></html>
`
}
