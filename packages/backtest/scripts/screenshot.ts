/**
 * Screenshots of a backtest report for docs/backtest.md: headless Chromium (Debian's, through
 * playwright-core; nothing is downloaded), the page opened from disk with every network request
 * refused, so a report that needed the network would show empty charts here.
 * Usage: tsx --conditions=allot-source packages/backtest/scripts/screenshot.ts <report.html> <out.png> [clipHeight] [scale]
 */
import { chromium } from 'playwright-core'

const [html, out, clip, scale] = process.argv.slice(2)
if (!html || !out) throw new Error('usage: screenshot.ts <report.html> <out.png> [clipHeight]')
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' })
try {
  const page = await browser.newPage({
    viewport: { width: 1100, height: 900 },
    deviceScaleFactor: Number(scale ?? 1),
  })
  const refused: string[] = []
  await page.route(/^https?:/, (route) => {
    refused.push(route.request().url())
    return route.abort()
  })
  await page.goto(`file://${html}`)
  await page.waitForSelector('body[data-rendered="yes"]', { timeout: 30_000 })
  if (refused.length > 0) throw new Error(`the report asked the network for ${refused.join(', ')}`)
  const height = (await page.evaluate('document.body.scrollHeight')) as number
  await page.screenshot({
    path: out,
    fullPage: true,
    clip: { x: 0, y: 0, width: 1100, height: Math.min(height, Number(clip ?? height)) },
  })
} finally {
  await browser.close()
}
