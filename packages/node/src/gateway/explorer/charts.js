// Charts of the explorer, drawn by chart.js (window.Chart, the vendored UMD build).

const SUPPLY = '#d92d20'
const DEMAND = '#1f5eff'
const PRICE = '#101828'

/** Cumulative step points of (price, quantity) offers, sorted by price (ascending for supply). */
function steps(offers, ascending) {
  const sorted = [...offers].sort((a, b) => (ascending ? a.price - b.price : b.price - a.price))
  const points = []
  let q = 0
  for (const o of sorted) {
    points.push({ x: q, y: o.price })
    q += o.qty
    points.push({ x: q, y: o.price })
  }
  return points
}

/**
 * Supply and demand of `base` priced in `quote` at one batch: sellers of base offer it at their limit (the
 * least quote per base they take), buyers bid their limit (the most they pay); the uniform clearing price
 * is the horizontal line, the traded volume the vertical one.
 */
export function supplyDemandChart(canvas, { base, quote, supply, demand, price, traded }) {
  const s = steps(supply, true)
  const d = steps(demand, false)
  const maxQ = Math.max(1e-12, ...s.map((p) => p.x), ...d.map((p) => p.x), traded) * 1.05
  const ys = [...s, ...d].map((p) => p.y).concat(price ? [price] : [])
  const datasets = [
    {
      label: `supply (sell ${base})`,
      data: s,
      borderColor: SUPPLY,
      backgroundColor: SUPPLY,
      showLine: true,
      pointRadius: 0,
      borderWidth: 2,
    },
    {
      label: `demand (buy ${base})`,
      data: d,
      borderColor: DEMAND,
      backgroundColor: DEMAND,
      showLine: true,
      pointRadius: 0,
      borderWidth: 2,
    },
  ]
  if (price)
    datasets.push({
      label: `clearing price ${fmt(price)} ${quote}/${base}`,
      data: [
        { x: 0, y: price },
        { x: maxQ, y: price },
      ],
      borderColor: PRICE,
      backgroundColor: PRICE,
      borderDash: [6, 4],
      showLine: true,
      pointRadius: 0,
      borderWidth: 1.5,
    })
  if (traded > 0)
    datasets.push({
      label: `traded ${fmt(traded)} ${base}`,
      data: [
        { x: traded, y: Math.min(...ys) * 0.95 },
        { x: traded, y: Math.max(...ys) * 1.05 },
      ],
      borderColor: '#12b76a',
      backgroundColor: '#12b76a',
      borderDash: [2, 3],
      showLine: true,
      pointRadius: 0,
      borderWidth: 1.5,
    })
  return new window.Chart(canvas, {
    type: 'scatter',
    data: { datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: {
        title: { display: true, text: `${base}/${quote}: supply and demand at the clearing price` },
      },
      scales: {
        x: { type: 'linear', title: { display: true, text: `quantity (${base})` }, min: 0, max: maxQ },
        y: { type: 'linear', title: { display: true, text: `price (${quote} per ${base})` } },
      },
    },
  })
}

/** A ring trade drawn as a cycle: assets on a circle, one arrow-labelled edge per traded direction. */
export function ringChart(canvas, { assets, edges }) {
  const at = new Map(
    assets.map((a, i) => {
      const t = (2 * Math.PI * i) / assets.length - Math.PI / 2
      return [a, { x: Math.cos(t), y: Math.sin(t) }]
    }),
  )
  const colors = ['#1f5eff', '#d92d20', '#12b76a', '#f79009', '#7a5af8', '#0ba5ec']
  const datasets = edges.map((e, i) => {
    const a = at.get(e.from)
    const b = at.get(e.to)
    // Stop short of the target and add a small head, so the direction reads.
    const tip = { x: a.x + (b.x - a.x) * 0.85, y: a.y + (b.y - a.y) * 0.85 }
    const ang = Math.atan2(b.y - a.y, b.x - a.x)
    const head = (d) => ({ x: tip.x - 0.09 * Math.cos(ang + d), y: tip.y - 0.09 * Math.sin(ang + d) })
    return {
      label: `${e.from} → ${e.to}: ${e.label}`,
      data: [a, tip, head(0.5), tip, head(-0.5)],
      showLine: true,
      pointRadius: 0,
      borderWidth: 2.5,
      borderColor: colors[i % colors.length],
      backgroundColor: colors[i % colors.length],
    }
  })
  datasets.push({
    label: 'assets',
    data: assets.map((a) => at.get(a)),
    pointRadius: 14,
    backgroundColor: '#101828',
    borderColor: '#101828',
    showLine: false,
  })
  const names = {
    id: 'assetNames',
    afterDatasetsDraw(chart) {
      const { ctx } = chart
      const meta = chart.getDatasetMeta(chart.data.datasets.length - 1)
      ctx.save()
      ctx.fillStyle = '#fff'
      ctx.font = 'bold 10px system-ui'
      ctx.textAlign = 'center'
      ctx.textBaseline = 'middle'
      for (const [i, p] of meta.data.entries()) ctx.fillText(assets[i], p.x, p.y)
      ctx.restore()
    },
  }
  return new window.Chart(canvas, {
    type: 'scatter',
    data: { datasets },
    plugins: [names],
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: {
        title: { display: true, text: 'ring trade' },
        legend: { labels: { filter: (l) => l.text !== 'assets' } },
      },
      scales: { x: { display: false, min: -1.4, max: 1.4 }, y: { display: false, min: -1.3, max: 1.3 } },
    },
  })
}

export function fmt(x) {
  if (!Number.isFinite(x)) return String(x)
  if (x === 0) return '0'
  const a = Math.abs(x)
  return a >= 1000
    ? x.toLocaleString('en-US', { maximumFractionDigits: 2 })
    : x.toPrecision(5).replace(/\.?0+$/, '')
}
