// The compose devnet's Grafana dashboard (docker/grafana/allot.json) against the metrics the node defines:
// every query names families that exist (a renamed metric shows up here, not as an empty panel), and
// every family is on some panel.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { createNodeMetrics, createRegistry } from '../../../src/metrics/index.js'

const dashboardPath = fileURLToPath(new URL('../../../../../docker/grafana/allot.json', import.meta.url))

interface Panel {
  type: string
  title: string
  targets?: { expr: string }[]
}

/** The families the node defines, with their type. */
async function families(): Promise<Map<string, string>> {
  const registry = createRegistry(false)
  createNodeMetrics(registry)
  return new Map((await registry.getMetricsAsJSON()).map((f) => [f.name, String(f.type)]))
}

/** The series a query names: `allot_…` identifiers, histogram suffixes mapped back to their family. */
function namedFamilies(expr: string, defined: Map<string, string>): { family: string; series: string }[] {
  return [...expr.matchAll(/\ballot_[a-z0-9_]+/g)].map(([series]) => {
    const base = series.replace(/_(bucket|sum|count)$/, '')
    return { family: defined.get(base) === 'histogram' ? base : series, series }
  })
}

describe('docker/grafana/allot.json', () => {
  const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as { panels: Panel[]; uid: string }
  const queries = dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
  )

  it('has panels with queries for each concern', () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title)
    expect(rows).toEqual(['Consensus', 'Batch', 'Sealing', 'Settlement', 'Network, mempool, API'])
    expect(queries.length).toBeGreaterThan(20)
  })

  it('every query names only metric families the node defines, histograms by their series', async () => {
    const defined = await families()
    const unknown: string[] = []
    for (const q of queries) {
      const named = namedFamilies(q.expr, defined)
      expect(named.length, `${q.panel}: ${q.expr} names no metric`).toBeGreaterThan(0)
      for (const { family, series } of named) {
        const type = defined.get(family)
        // A histogram is queried through _bucket/_sum/_count; anything else by its own name.
        if (!type || (type === 'histogram' && series === family)) unknown.push(`${q.panel}: ${series}`)
      }
    }
    expect(unknown).toEqual([])
  })

  it('every family the node defines is on the dashboard', async () => {
    const defined = await families()
    const shown = new Set(queries.flatMap((q) => namedFamilies(q.expr, defined).map((n) => n.family)))
    expect([...defined.keys()].filter((f) => !shown.has(f))).toEqual([])
  })

  it('the scrape config names the four compose validators on their metrics port', () => {
    const prometheus = readFileSync(
      fileURLToPath(new URL('../../../../../docker/prometheus.yml', import.meta.url)),
      'utf8',
    )
    for (let i = 0; i < 4; i++) expect(prometheus).toContain(`validator-${i}:9100`)
  })
})
