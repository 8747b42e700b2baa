// The allot explorer: plain ES modules over the node's gateway (same origin), live over server-sent events.
import { fmt, ringChart, supplyDemandChart } from './charts.js'

const view = document.getElementById('view')
const state = { info: null, assets: new Map(), batches: new Map(), charts: [] }

async function get(path) {
  const r = await fetch(path)
  const body = await r.json()
  if (!r.ok) throw Object.assign(new Error(`${body.code}: ${body.message}`), { code: body.code })
  return body
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const short = (h) => (h ? `${h.slice(0, 8)}…${h.slice(-4)}` : '')
const sym = (id) => state.assets.get(id)?.symbol ?? short(id)
const dec = (id) => state.assets.get(id)?.decimals ?? 18

/** A base-unit amount (decimal string) as a number of whole units. */
const units = (amount, id) => Number(BigInt(amount)) / 10 ** dec(id)
const amount = (a, id) => `${fmt(units(a, id))} ${esc(sym(id))}`

/** Uniform prices as "1 X = p Y" against the numeraire (the first asset of the network). */
function priceList(prices) {
  if (prices.length === 0) return '<span class="muted">—</span>'
  const num = prices.find((p) => p.asset === state.info.assets[0].assetId) ?? prices[0]
  return prices
    .filter((p) => p !== num)
    .map(
      (p) =>
        `<span data-testid="price">1 ${esc(sym(p.asset))} = ${fmt(relPrice(p, num))} ${esc(sym(num.asset))}</span>`,
    )
    .join('<br>')
}
/** Units of `b` per unit of `a` at uniform prices (prices are per base unit, on one scale). */
const relPrice = (a, b) =>
  (Number(BigInt(a.price)) / Number(BigInt(b.price))) * 10 ** (dec(a.asset) - dec(b.asset))

function settlementCell(s, b) {
  // A batch that moves nothing is never sent to the contract (docs/architecture.md, prevHeight).
  if (!s && b && b.fills.length === 0)
    return '<span class="muted" data-testid="settlement">nothing to settle</span>'
  if (!s) return '<span class="muted" data-testid="settlement">pending</span>'
  const cls = s.status === 'settled' ? 'ok' : 'bad'
  return `<span class="${cls}" data-testid="settlement">${esc(s.status)}</span> <code title="${esc(s.txHash)}">${short(s.txHash)}</code>`
}

function batchRow(b) {
  return `<tr data-height="${b.height}">
    <td><a href="#/batch/${b.height}">${b.height}</a></td>
    <td>${b.orderCount}</td>
    <td data-testid="fills">${b.fills.length}</td>
    <td>${priceList(b.prices)}</td>
    <td title="${esc(b.signers.join('\n'))}">${b.signers.length} signers</td>
    <td>${settlementCell(b.settlement, b)}</td>
    <td>${b.objective == null ? '<span class="muted">—</span>' : fmt(units(b.objective, state.info.assets[0].assetId))}</td>
  </tr>`
}

// ---- the list ------------------------------------------------------------------------------------------

async function showList() {
  view.innerHTML = `
    <section><h2>Validators</h2><table id="validators"><thead><tr><th>validator</th><th>peer</th><th>up</th>
      <th>height</th><th>last signature</th><th>in quorum</th></tr></thead><tbody></tbody></table></section>
    <section><h2>Batches</h2><table id="batches"><thead><tr><th>height</th><th>orders</th><th>fills</th>
      <th>uniform prices</th><th>certificate</th><th>settlement</th><th>objective</th></tr></thead><tbody></tbody></table></section>`
  const { batches } = await get('/v1/batches?limit=25')
  for (const b of batches) state.batches.set(b.height, b)
  renderBatches()
  await refreshValidators()
}

function renderBatches(fresh) {
  const body = document.querySelector('#batches tbody')
  if (!body) return
  const rows = [...state.batches.values()]
    .sort((a, b) => Number(BigInt(b.height) - BigInt(a.height)))
    .slice(0, 25)
  body.innerHTML = rows.map(batchRow).join('')
  if (fresh) body.querySelector(`tr[data-height="${fresh}"]`)?.classList.add('new')
}

/** The list again (settlements the stream may have missed while the page was elsewhere). */
async function refreshList() {
  if (!document.querySelector('#batches')) return
  const { batches } = await get('/v1/batches?limit=25')
  for (const b of batches) state.batches.set(b.height, b)
  renderBatches()
}

async function refreshValidators() {
  const body = document.querySelector('#validators tbody')
  if (!body) return
  const { validators } = await get('/v1/validators')
  body.innerHTML = validators
    .map(
      (
        v,
      ) => `<tr><td><code>${esc(v.address)}</code>${v.self ? ' <span class="muted">(this node)</span>' : ''}</td>
      <td><code>${short(v.peerId)}</code></td>
      <td class="${v.up ? 'ok' : 'bad'}">${v.up ? 'up' : 'down'}</td>
      <td${v.self ? '' : ' title="the last height whose result it attested here"'}>${v.height ?? '<span class="muted" title="no attestation of it seen here">—</span>'}</td>
      <td>${v.lastSigned ?? '—'}</td>
      <td class="${v.inQuorum ? 'ok' : 'bad'}">${v.inQuorum ? 'yes' : 'no'}</td></tr>`,
    )
    .join('')
}

// ---- one batch -----------------------------------------------------------------------------------------

async function showBatch(height) {
  const b = await get(`/v1/batches/${height}`)
  const book = await get(`/v1/batches/${height}/book`).catch(() => null)
  const pairs = pairsOf(b, book)
  const ring = ringOf(b)
  view.innerHTML = `
    <section><h2>Batch ${esc(b.height)}</h2><dl class="facts">
      <dt>orders</dt><dd>${b.orderCount}</dd>
      <dt>fills</dt><dd data-testid="fills">${b.fills.length}</dd>
      <dt>uniform prices</dt><dd>${priceList(b.prices)}</dd>
      <dt>solver objective</dt><dd data-testid="objective">${book ? fmt(units(book.objective, book.numeraire)) + ' ' + esc(sym(book.numeraire)) : '—'}</dd>
      <dt>result hash</dt><dd><code>${esc(b.resultHash ?? '—')}</code></dd>
      <dt>certificate</dt><dd>${b.signers.map((s) => `<code>${esc(s)}</code>`).join('<br>')}</dd>
      <dt>settlement</dt><dd>${settlementCell(b.settlement)} ${b.settlement ? `<code>${esc(b.settlement.txHash)}</code>` : ''}</dd>
    </dl></section>
    <div class="grid">${pairs.map((p, i) => `<section><div class="chart"><canvas id="pair-${i}" data-pair="${esc(p.base)}/${esc(p.quote)}"></canvas></div></section>`).join('')}
      ${ring ? '<section><div class="chart"><canvas id="ring" data-testid="ring"></canvas></div></section>' : ''}</div>
    <section><h2>Fills</h2><table><thead><tr><th>order</th><th>trader</th><th>sold</th><th>bought</th></tr></thead><tbody>
      ${b.fills
        .map(
          (
            f,
          ) => `<tr data-testid="fill"><td><a href="#/order/${f.orderId}"><code>${short(f.orderId)}</code></a></td><td><code>${short(f.trader)}</code></td>
        <td>${amount(f.sold, f.sellAsset)}</td><td>${amount(f.bought, f.buyAsset)}</td></tr>`,
        )
        .join('')}
    </tbody></table></section>
    ${
      book
        ? `<section><h2>Book (unsealed after the decision)</h2><table><thead><tr><th>order</th><th>sells</th><th>for at least</th><th>kind</th></tr></thead><tbody>
      ${book.orders
        .map(
          (
            o,
          ) => `<tr><td><a href="#/order/${o.orderId}"><code>${short(o.orderId)}</code></a>${o.resting ? ' <span class="muted">(resting)</span>' : ''}</td>
        <td>${amount(o.sellAmount, o.sellAsset)}</td><td>${amount(o.buyAmount, o.buyAsset)}</td><td>${o.kind}${o.partial ? ', partial' : ''}</td></tr>`,
        )
        .join('')}
    </tbody></table></section>`
        : ''
    }`
  for (const [i, p] of pairs.entries())
    state.charts.push(supplyDemandChart(document.getElementById(`pair-${i}`), p))
  if (ring) state.charts.push(ringChart(document.getElementById('ring'), ring))
}

/** Per traded pair: the book's offers as (price of base in quote, quantity of base), the clearing price, the volume. */
function pairsOf(b, book) {
  const priceOf = new Map(b.prices.map((p) => [p.asset, p]))
  const keys = new Map()
  for (const f of b.fills) {
    const [base, quote] = [f.sellAsset, f.buyAsset].sort((x, y) => sym(x).localeCompare(sym(y)))
    keys.set(`${base}|${quote}`, { base, quote })
  }
  return [...keys.values()].map(({ base, quote }) => {
    const supply = []
    const demand = []
    for (const o of book?.orders ?? []) {
      if (o.sellAsset === base && o.buyAsset === quote) {
        const q = units(o.sellAmount, base)
        supply.push({ qty: q, price: units(o.buyAmount, quote) / q })
      } else if (o.sellAsset === quote && o.buyAsset === base) {
        const q = units(o.buyAmount, base)
        demand.push({ qty: q, price: units(o.sellAmount, quote) / q })
      }
    }
    const pb = priceOf.get(base)
    const pq = priceOf.get(quote)
    const traded = b.fills
      .filter((f) => f.sellAsset === base && f.buyAsset === quote)
      .reduce((s, f) => s + units(f.sold, base), 0)
    return {
      base: sym(base),
      quote: sym(quote),
      supply,
      demand,
      price: pb && pq ? relPrice(pb, pq) : 0,
      traded,
    }
  })
}

/** A ring: fills whose sell → buy edges close a cycle through three or more assets. */
function ringOf(b) {
  const edges = new Map()
  for (const f of b.fills) {
    const k = `${f.sellAsset}|${f.buyAsset}`
    edges.set(k, (edges.get(k) ?? 0) + units(f.sold, f.sellAsset))
  }
  const assets = [...new Set(b.fills.flatMap((f) => [f.sellAsset, f.buyAsset]))]
  if (assets.length < 3) return null
  const next = (a) => [...edges.keys()].filter((k) => k.startsWith(`${a}|`)).map((k) => k.split('|')[1])
  // A cycle through every traded asset (depth-first; batches trade few assets).
  const walk = (path) => {
    if (path.length === assets.length) return next(path.at(-1)).includes(path[0]) ? path : null
    for (const n of next(path.at(-1)))
      if (!path.includes(n)) {
        const found = walk([...path, n])
        if (found) return found
      }
    return null
  }
  const cycle = walk([assets[0]])
  if (!cycle) return null
  return {
    assets: cycle.map(sym),
    edges: cycle.map((a, i) => {
      const to = cycle[(i + 1) % cycle.length]
      return { from: sym(a), to: sym(to), label: `${fmt(edges.get(`${a}|${to}`))} ${sym(a)}` }
    }),
  }
}

// ---- one order -----------------------------------------------------------------------------------------

let orderStream = null
async function showOrder(id) {
  const render = (life) => {
    view.innerHTML = `<section><h2>Order <code>${esc(id)}</code></h2>
      <ol class="steps">${life.steps.map((s) => `<li class="${s.done ? 'done' : ''}" data-step="${esc(s.step)}" title="${esc(s.detail ?? '')}">${esc(s.step)}${s.height ? ` @${s.height}` : ''}</li>`).join('')}</ol>
      <dl class="facts"><dt>status</dt><dd data-testid="order-status">${esc(life.status.status)}</dd>
        <dt>batch</dt><dd>${life.status.batch ? `<a href="#/batch/${life.status.batch}">${life.status.batch}</a>` : '—'}</dd>
        <dt>filled</dt><dd>${life.status.filled ? `sold ${esc(life.status.filled.sold)}, bought ${esc(life.status.filled.bought)}` : '—'}</dd>
        <dt>settlement</dt><dd>${life.status.txHash ? `<code>${esc(life.status.txHash)}</code>` : '—'}</dd>
        ${life.status.error ? `<dt>error</dt><dd class="bad">${esc(life.status.error.code)}: ${esc(life.status.error.message)}</dd>` : ''}</dl></section>`
  }
  render(await get(`/v1/orders/${id}/life`))
  orderStream = new EventSource(`/v1/stream/orders/${id}`)
  orderStream.addEventListener('status', async () => render(await get(`/v1/orders/${id}/life`)))
}

// ---- the frame -----------------------------------------------------------------------------------------

async function refreshStatus() {
  const s = await get('/status')
  document.getElementById('node-status').textContent =
    `height ${s.height} · finalized ${s.finalized} · settled ${s.settled} · ${s.peers} peers · ${s.inResultQuorum ? 'in result quorum' : 'not in result quorum'}`
}

async function route() {
  for (const c of state.charts.splice(0)) c.destroy()
  orderStream?.close()
  orderStream = null
  const h = location.hash.replace(/^#/, '') || '/'
  try {
    let m
    if ((m = /^\/batch\/(\d+)$/.exec(h))) await showBatch(m[1])
    else if ((m = /^\/order\/(0x[0-9a-fA-F]{64})$/.exec(h))) await showOrder(m[1])
    else await showList()
  } catch (e) {
    view.innerHTML = `<section class="bad">${esc(e.message)}</section>`
  }
}

async function main() {
  state.info = await get('/v1/info')
  for (const a of state.info.assets) state.assets.set(a.assetId, a)
  document.getElementById('network').textContent = `${state.info.networkId} · chain ${state.info.chainId}`
  document.getElementById('lookup').addEventListener('submit', (e) => {
    e.preventDefault()
    location.hash = `#/order/${document.getElementById('lookup-id').value.trim()}`
  })
  window.addEventListener('hashchange', route)
  await route()
  const live = new EventSource('/v1/stream/batches')
  const take = (ev) => {
    const b = JSON.parse(ev.data)
    const had = state.batches.get(b.height)
    state.batches.set(b.height, { ...b, objective: had?.objective ?? null })
    renderBatches(ev.type === 'batch' ? b.height : undefined)
    // The objective comes from the book, read once the batch is known.
    if (!had)
      get(`/v1/batches/${b.height}/book`).then(
        (k) => {
          state.batches.get(b.height).objective = k.objective
          renderBatches()
        },
        () => {},
      )
  }
  live.addEventListener('batch', take)
  live.addEventListener('settlement', take)
  setInterval(() => {
    refreshStatus().catch(() => {})
    refreshList().catch(() => {})
    refreshValidators().catch(() => {})
  }, 2000)
  await refreshStatus()
  document.body.dataset.ready = 'true'
}

main().catch((e) => {
  view.innerHTML = `<section class="bad">${esc(e.message)}</section>`
})
