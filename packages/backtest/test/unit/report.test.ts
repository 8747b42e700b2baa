import { describe, expect, it } from 'vitest'
import { DEFAULT_SIMULATION, reportHtml, reportJson, runBacktest, simulate } from '../../src/index.js'

describe('reports', () => {
  it('writes a self-contained HTML page: Chart.js inlined, no address to fetch anything from', async () => {
    const h = simulate({ ...DEFAULT_SIMULATION, batches: 6, seed: 2 })
    const runs = await runBacktest(h, [{ name: '1 s' }, { name: '2 s', intervalMs: 2000, feeBps: 10 }], {
      threads: 1,
    })
    const html = reportHtml({ title: 'test <report>', header: h.header, runs })
    // nothing loaded from anywhere: no src/href/url() pointing at a network address, no external script
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?\s*(https?:)?\/\//i)
    expect(html).not.toMatch(/url\(\s*["']?(https?:)?\/\//i)
    expect(html).not.toMatch(/<script[^>]+src=/i)
    expect(html).not.toMatch(/<link[^>]+href=/i)
    expect(html).not.toContain('@import')
    // the library itself is in the page, and one canvas per chart
    expect(html.length).toBeGreaterThan(200_000)
    expect(html).toContain('new Chart(')
    for (const id of ['price-ETH', 'price-BTC', 'surplus', 'fillRate', 'outcomes', 'agents'])
      expect(html).toContain(`id="${id}"`)
    expect(html).toContain('test &lt;report&gt;')
    // both configurations side by side
    expect(html).toContain('batch<br>1 s')
    expect(html).toContain('continuous<br>2 s')
    const json = JSON.parse(JSON.stringify(reportJson({ title: 't', header: h.header, runs }))) as {
      runs: { config: { name: string }; totals: { batch: { orders: number } }; batches: unknown[] }[]
    }
    expect(json.runs.map((r) => r.config.name)).toEqual(['1 s', '2 s'])
    expect(json.runs[0].batches).toHaveLength(6)
    expect(json.runs[0].totals.batch.orders).toBe(h.batches.reduce((s, b) => s + b.orders.length, 0))
  })
})
