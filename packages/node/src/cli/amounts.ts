import { AllotError, MAX_ORDER_AMOUNT } from '@allot/protocol'

/**
 * Amounts as people write them (docs/cli.md "Amounts"): in the asset's own decimals (from genesis) by
 * default — `--sell 100 TKA`, `--sell TKA:100.5` — and in raw base units only when asked: a trailing
 * `wei` or `raw` (`TKA:5000wei`, `5000raw TKA`) or the `--raw` flag. Parsing is in two steps: the words
 * of a flag give an asset and an amount's text (no network needed), then the asset's decimals make the
 * text base units. Every refusal is ORDER_BAD_AMOUNT (the amount) or CLI_BAD_FLAG (the form).
 */
export interface AmountLeg {
  asset: string
  /** The amount as written, without a raw suffix. */
  text: string
  /** Base units: a `wei`/`raw` suffix (or the caller's --raw). */
  raw: boolean
}

const NUMBER = /^[+-]?[0-9][0-9_,]*(\.[0-9]*)?([eE][+-]?[0-9]+)?(wei|raw)?$|^[+-]?\.[0-9]+(wei|raw)?$/

function looksLikeAmount(w: string): boolean {
  return NUMBER.test(w)
}

/** The words of `--sell` / `--buy`: `ASSET:amount`, `amount ASSET`, `ASSET amount`, or one quoted `"amount ASSET"`. */
export function parseAmountLeg(words: string | readonly string[], flag: string): AmountLeg {
  const parts = (typeof words === 'string' ? [words] : [...words]).flatMap((w) => w.trim().split(/\s+/))
  let asset: string
  let amount: string
  if (parts.length === 1) {
    const w = parts[0]
    const i = w.lastIndexOf(':')
    if (i <= 0 || i === w.length - 1)
      throw new AllotError('CLI_BAD_FLAG', `${flag} must be "<amount> <ASSET>" or ASSET:<amount>, got ${w}`)
    asset = w.slice(0, i)
    amount = w.slice(i + 1)
  } else if (parts.length === 2) {
    const [a, b] = parts
    if (looksLikeAmount(a) && !looksLikeAmount(b)) [amount, asset] = [a, b]
    else if (looksLikeAmount(b) && !looksLikeAmount(a)) [asset, amount] = [a, b]
    else throw new AllotError('CLI_BAD_FLAG', `${flag} must be "<amount> <ASSET>", got ${parts.join(' ')}`)
  } else {
    throw new AllotError(
      'CLI_BAD_FLAG',
      `${flag} takes an amount and an asset, got ${parts.join(' ') || 'nothing'}`,
    )
  }
  const m = /^(.*?)(wei|raw)$/i.exec(amount)
  return { asset, text: m ? m[1] : amount, raw: m !== null }
}

/** `text` in units of 10^-decimals as a bigint (raw: `text` already is base units). */
export function toBaseUnits(text: string, decimals: number, raw: boolean, what = 'amount'): bigint {
  const t = text.replace(/[_,]/g, '')
  if (/^-/.test(t)) throw new AllotError('ORDER_BAD_AMOUNT', `${what} must be positive, got ${text}`)
  const m = /^\+?([0-9]*)(?:\.([0-9]*))?$/.exec(t)
  if (!m || (m[1] === '' && (m[2] ?? '') === ''))
    throw new AllotError('ORDER_BAD_AMOUNT', `${what} must be a decimal number, got ${text}`)
  const whole = m[1] || '0'
  const frac = (m[2] ?? '').replace(/0+$/, '')
  let units: bigint
  if (raw) {
    if (frac !== '')
      throw new AllotError(
        'ORDER_BAD_AMOUNT',
        `${what} in base units (wei/raw) must be a whole number, got ${text}`,
      )
    units = BigInt(whole)
  } else {
    if (frac.length > decimals)
      throw new AllotError(
        'ORDER_BAD_AMOUNT',
        `${what} ${text} has ${frac.length} decimals; this asset has ${decimals}`,
      )
    units = BigInt(whole) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0')
  }
  if (units === 0n) throw new AllotError('ORDER_BAD_AMOUNT', `${what} must be more than 0, got ${text}`)
  if (units > MAX_ORDER_AMOUNT)
    throw new AllotError(
      'ORDER_BAD_AMOUNT',
      `${what} ${text}${raw ? ' (base units)' : ''} is more than an order may carry (${formatUnits(MAX_ORDER_AMOUNT, decimals)}, 2¹¹² − 1 base units)`,
    )
  return units
}

/** Base units written in the asset's decimals, without trailing zeros: 1500000000000000000n, 18 → "1.5". */
export function formatUnits(units: bigint, decimals: number): string {
  const neg = units < 0n
  const v = neg ? -units : units
  if (decimals === 0) return `${neg ? '-' : ''}${v}`
  const s = v.toString().padStart(decimals + 1, '0')
  const whole = s.slice(0, s.length - decimals)
  const frac = s.slice(s.length - decimals).replace(/0+$/, '')
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`
}

/** `units` of an asset named by symbol or id, in its decimals (base units when the network does not know it). */
export function formatAssetAmount(
  assets: readonly { symbol: string; assetId: string; decimals: number }[],
  asset: string,
  units: bigint | string,
): string {
  const a = assets.find((x) => x.symbol === asset || x.assetId === asset)
  const v = typeof units === 'bigint' ? units : BigInt(units)
  return a ? formatUnits(v, a.decimals) : `${v} (base units)`
}
