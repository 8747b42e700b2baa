/**
 * The explorer in a real browser (issue 22): `allot devnet up` (each node serves its gateway), headless
 * Chromium (Debian's, driven by playwright-core) on node 2's explorer, crossing sealed orders and a
 * three-token ring submitted through nodes 0 and 1's gateways over HTTP, then the batch, its uniform prices,
 * its fills, its curves and its settlement must appear on the page. Screenshots of the list, a batch page
 * and an order's life go to artifacts/explorer/ (CI keeps them; docs/explorer.md shows copies).
 * Every process is stopped by PID in afterAll, the browser closed, even on failure.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildOrder } from '@allot/node'
import {
  addressOf,
  encode,
  type Hex,
  type NodeInfo,
  type PrivateKey,
  privateKeyFromHex,
  sealedOrderCodec,
  sealOrder,
  signOrder,
  toHex,
} from '@allot/protocol'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { allot, allotJson, REPO } from './support/cli.js'

interface DevnetJson {
  chainPid: number
  nodes: { index: number; http: string; pid: number }[]
  accounts: { address: string; privateKey: string }[]
}
type Json = Record<string, unknown>

const E18 = 10n ** 18n
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const SHOTS = join(REPO, 'artifacts', 'explorer')
const dir = mkdtempSync(join(tmpdir(), 'allot-explorer-'))
let devnet: DevnetJson
let browser: Browser | undefined
let page: Page

function pids(): number[] {
  try {
    const d = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')) as DevnetJson
    return [d.chainPid, ...d.nodes.map((n) => n.pid)].filter((p) => typeof p === 'number')
  } catch {
    return []
  }
}

async function get(base: string, path: string): Promise<Json> {
  const r = await fetch(`${base}${path}`)
  const body = (await r.json()) as Json
  if (!r.ok) throw new Error(`${path}: ${body.code} ${body.message}`)
  return body
}

async function post(base: string, path: string, body: unknown): Promise<Json> {
  const r = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const json = (await r.json()) as Json
  if (!r.ok) throw new Error(`${path}: ${json.code} ${json.message}`)
  return json
}

async function nodeInfo(base: string): Promise<NodeInfo> {
  const j = await get(base, '/v1/info')
  return {
    ...(j as unknown as NodeInfo),
    openBatch: BigInt(j.openBatch as string),
    chainId: BigInt(j.chainId as string),
  }
}

/** Builds, signs and seals an order to batch `target`'s key (read from the gateway), as a wallet would. */
async function sealedEnvelope(
  base: string,
  key: PrivateKey,
  spec: { sell: string; buy: string; sellAmount: bigint; buyAmount: bigint; batch: bigint },
): Promise<Hex> {
  const info = await nodeInfo(base)
  const domain = { chainId: info.chainId, verifyingContract: info.settlement }
  const order = buildOrder(info, { ...spec, partiallyFillable: true }, addressOf(key))
  const { publicKey } = await get(base, `/v1/batches/${spec.batch}/key`)
  const sealed = sealOrder({
    domain,
    signedOrder: { order, signature: signOrder(domain, order, key) },
    batchPublicKey: publicKey as Hex,
    traderKey: key,
    nonce: order.nonce,
  })
  return toHex(encode(sealedOrderCodec, sealed)) as Hex
}

/** Submits through `base`'s gateway, to a batch a few heights ahead; a batch closed meanwhile is retried further on. */
async function submitAhead(
  submit: (target: bigint) => Promise<Json[]>,
  base: string,
  after = 0n,
): Promise<{ target: bigint; ids: string[] }> {
  for (let attempt = 0; ; attempt++) {
    const ahead = (await nodeInfo(base)).openBatch + 3n + 3n * BigInt(attempt)
    // strictly after `after`: two submissions in a row may otherwise both aim at one batch (a CI run
    // put the pair and the ring in one batch of 5 fills)
    const target = ahead > after ? ahead : after + 1n
    try {
      const r = await submit(target)
      return { target, ids: r.map((x) => x.orderId as string) }
    } catch (e) {
      if (attempt >= 3 || !String(e).includes('ORDER_TARGET_CLOSED')) throw e
    }
  }
}

/** Waits until an order is settled on chain, as its gateway says. */
async function settled(base: string, id: string): Promise<Json> {
  for (;;) {
    const s = await get(base, `/v1/orders/${id}`)
    if (s.txHash) return s
    if (['rejected', 'expired', 'cancelled', 'unfilled'].includes(s.status as string))
      throw new Error(`order ${id} ended ${JSON.stringify(s)}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

describe('the explorer in headless Chromium on a devnet', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true })
    devnet = await allotJson<DevnetJson>(
      ['devnet', 'up', '--dir', dir, '--validators', '4', '--batch-ms', '1000', '--accounts', '4'],
      180_000,
    )
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  }, 240_000)

  afterEach(async (ctx) => {
    // What the page showed when a step failed: kept beside the other screenshots.
    if (ctx.task.result?.state === 'fail')
      await page?.screenshot({ path: join(SHOTS, 'failure.png'), fullPage: true }).catch(() => undefined)
  })

  afterAll(async () => {
    await browser?.close().catch(() => undefined)
    const before = pids()
    await allot(['devnet', 'down', '--dir', dir], { timeoutMs: 60_000 }).catch(() => undefined)
    for (const pid of before) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true })
  }, 90_000)

  it('writes each node’s gateway URL to devnet.json, and every one answers', async () => {
    for (const n of devnet.nodes) {
      expect(n.http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(await get(n.http, '/health')).toEqual({ ok: true })
    }
  })

  it('shows a batch of crossing orders, its prices, fills, curves and settlement, live', async () => {
    const [a0, a1, a2, a3] = devnet.nodes.map((n) => n.http)
    const [alice, bob, carol, dave] = devnet.accounts.map((a) => privateKeyFromHex(a.privateKey))
    await page.goto(a2)
    await page.waitForSelector('body[data-ready="true"]')

    // A crossing pair: alice sells TKA for TKB through node 0, bob the reverse through node 1.
    const pair = await submitAhead(
      async (target) => [
        await post(a0, '/v1/orders', {
          envelope: await sealedEnvelope(a0, alice, {
            sell: 'TKA',
            sellAmount: 10n * E18,
            buy: 'TKB',
            buyAmount: 9n * E18,
            batch: target,
          }),
        }),
        await post(a1, '/v1/orders', {
          envelope: await sealedEnvelope(a1, bob, {
            sell: 'TKB',
            sellAmount: 10n * E18,
            buy: 'TKA',
            buyAmount: 9n * E18,
            batch: target,
          }),
        }),
      ],
      a0,
    )
    // A ring in a later batch: carol TKA → TKB, dave TKB → TKC, alice TKC → TKA, in one submitMany.
    const ring = await submitAhead(
      async (target) => {
        const r = await post(a3, '/v1/orders/many', {
          envelopes: [
            await sealedEnvelope(a3, carol, {
              sell: 'TKA',
              sellAmount: 5n * E18,
              buy: 'TKB',
              buyAmount: 4n * E18,
              batch: target,
            }),
            await sealedEnvelope(a3, dave, {
              sell: 'TKB',
              sellAmount: 5n * E18,
              buy: 'TKC',
              buyAmount: 4n * E18,
              batch: target,
            }),
            await sealedEnvelope(a3, alice, {
              sell: 'TKC',
              sellAmount: 5n * E18,
              buy: 'TKA',
              buyAmount: 4n * E18,
              batch: target,
            }),
          ],
        })
        const results = r.results as Json[]
        const refused = results.find((x) => x.kind !== 'submitted')
        if (refused) throw new Error(`${refused.code} ${refused.message}`)
        return results
      },
      a3,
      pair.target,
    )

    const alicePair = await settled(a0, pair.ids[0])
    const height = alicePair.batch as string
    await settled(a3, ring.ids[0])
    const ringHeight = (await get(a3, `/v1/orders/${ring.ids[0]}`)).batch as string

    // The list, as the stream brought it: the batch's row with its fills, prices and settlement.
    const row = page.locator(`#batches tr[data-height="${height}"]`)
    await row.locator('[data-testid="settlement"]', { hasText: 'settled' }).waitFor()
    expect(await row.locator('[data-testid="fills"]').textContent()).toBe('2')
    expect(await row.locator('[data-testid="price"]').first().textContent()).toMatch(/^1 TKB = [0-9.]+ TKA$/)
    await page
      .locator(`#batches tr[data-height="${ringHeight}"] [data-testid="settlement"]`, { hasText: 'settled' })
      .waitFor()
    await page.locator('#validators td.ok', { hasText: 'up' }).nth(3).waitFor()
    // every validator's height: this node's own, the others' from the attestations that reached it
    const heights = await page.locator('#validators tbody tr td:nth-child(4)').allTextContents()
    expect(heights).toHaveLength(4)
    for (const h of heights) expect(h.trim()).toMatch(/^[0-9]+$/)
    await page.screenshot({ path: join(SHOTS, 'list.png'), fullPage: true })

    // The batch page: prices, both fills, the settlement, and the supply/demand chart of TKA/TKB.
    await page.goto(`${a2}/#/batch/${height}`)
    await page.locator('canvas[data-pair="TKA/TKB"]').waitFor()
    const facts = await page.locator('section').first().textContent()
    expect(facts).toMatch(/1 TKB = [0-9.]+ TKA/)
    expect(facts).toMatch(/settled/)
    expect(await page.locator('[data-testid="fill"]').count()).toBe(2)
    const batch = await get(a2, `/v1/batches/${height}`)
    expect(facts).toContain((batch.settlement as Json).txHash as string)
    // chart.js drew the curves (a canvas it owns, with its datasets).
    const datasets = (await page.evaluate(`(() => {
      const chart = window.Chart.getChart(document.querySelector('canvas[data-pair="TKA/TKB"]'))
      return chart.data.datasets.map((d) => ({ label: d.label, points: d.data.length }))
    })()`)) as { label: string; points: number }[]
    expect(datasets.map((d) => d.label.split(' ')[0])).toEqual(['supply', 'demand', 'clearing', 'traded'])
    expect(datasets[0].points).toBeGreaterThan(0)
    expect(datasets[1].points).toBeGreaterThan(0)
    await page.screenshot({ path: join(SHOTS, 'batch.png'), fullPage: true })

    // The ring's batch draws the cycle.
    await page.goto(`${a2}/#/batch/${ringHeight}`)
    await page.locator('canvas[data-testid="ring"]').waitFor()
    await page.screenshot({ path: join(SHOTS, 'ring.png'), fullPage: true })

    // An order's life, every step done once settled.
    await page.goto(`${a2}/#/order/${pair.ids[0]}`)
    await page.locator('.steps li.done[data-step="settled"]').waitFor()
    expect(await page.locator('.steps li.done').count()).toBe(6)
    await page.screenshot({ path: join(SHOTS, 'order.png'), fullPage: true })
  }, 180_000)
})
