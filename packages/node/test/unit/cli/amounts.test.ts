import { MAX_ORDER_AMOUNT } from '@allot/protocol'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatUnits, parseAmountLeg, toBaseUnits } from '../../../src/cli/amounts.js'
import { parseBatchFlag } from '../../../src/cli/submit.js'

const E18 = 10n ** 18n

describe('readable amounts', () => {
  it('reads "100 TKA", "TKA 100", TKA:100.5 and raw forms with a wei/raw suffix', () => {
    expect(parseAmountLeg(['100', 'TKA'], '--sell')).toEqual({ asset: 'TKA', text: '100', raw: false })
    expect(parseAmountLeg(['TKA', '100'], '--sell')).toEqual({ asset: 'TKA', text: '100', raw: false })
    expect(parseAmountLeg('100.5 TKA', '--sell')).toEqual({ asset: 'TKA', text: '100.5', raw: false })
    expect(parseAmountLeg(['TKA:100.5'], '--sell')).toEqual({ asset: 'TKA', text: '100.5', raw: false })
    expect(parseAmountLeg(['TKA:5000wei'], '--sell')).toEqual({ asset: 'TKA', text: '5000', raw: true })
    expect(parseAmountLeg(['5000raw', 'TKB'], '--buy')).toEqual({ asset: 'TKB', text: '5000', raw: true })
    expect(parseAmountLeg(['cpu.vcore-hour:3'], '--buy')).toEqual({
      asset: 'cpu.vcore-hour',
      text: '3',
      raw: false,
    })
    for (const bad of [['TKA'], ['TKA:'], ['1', '2'], ['TKA', 'TKB'], ['1', 'TKA', 'x'], []])
      expect(() => parseAmountLeg(bad, '--sell')).toThrow(/CLI_BAD_FLAG/)
  })

  it('converts in the asset’s decimals; raw only when asked', () => {
    expect(toBaseUnits('100', 18, false)).toBe(100n * E18)
    expect(toBaseUnits('100.5', 18, false)).toBe(1005n * 10n ** 17n)
    expect(toBaseUnits('0.000000000000000001', 18, false)).toBe(1n)
    expect(toBaseUnits('1_000.25', 2, false)).toBe(100_025n)
    expect(toBaseUnits('.5', 1, false)).toBe(5n)
    expect(toBaseUnits('3', 0, false)).toBe(3n)
    expect(toBaseUnits('5000', 18, true)).toBe(5000n)
    expect(toBaseUnits('1.50', 1, false)).toBe(15n) // trailing zeros are not extra decimals
  })

  it('refuses too many decimals, negatives, zero, non-numbers and overflow, each with a code', () => {
    expect(() => toBaseUnits('0.0000000000000000001', 18, false)).toThrow(/ORDER_BAD_AMOUNT.*19 decimals/)
    expect(() => toBaseUnits('1.5', 0, false)).toThrow(/ORDER_BAD_AMOUNT.*has 1 decimals; this asset has 0/)
    expect(() => toBaseUnits('-1', 18, false)).toThrow(/ORDER_BAD_AMOUNT.*positive/)
    expect(() => toBaseUnits('0', 18, false)).toThrow(/ORDER_BAD_AMOUNT.*more than 0/)
    expect(() => toBaseUnits('0.0', 18, false)).toThrow(/ORDER_BAD_AMOUNT/)
    expect(() => toBaseUnits('1e18', 18, false)).toThrow(/ORDER_BAD_AMOUNT.*decimal number/)
    expect(() => toBaseUnits('abc', 18, false)).toThrow(/ORDER_BAD_AMOUNT/)
    expect(() => toBaseUnits('.', 18, false)).toThrow(/ORDER_BAD_AMOUNT/)
    expect(() => toBaseUnits('1.5', 18, true)).toThrow(/ORDER_BAD_AMOUNT.*whole number/)
    // The old raw form typed without --raw: 100 TKA in wei read as tokens is far past what an order carries.
    expect(() => toBaseUnits('100000000000000000000', 18, false)).toThrow(
      /ORDER_BAD_AMOUNT.*more than an order/,
    )
    expect(toBaseUnits(MAX_ORDER_AMOUNT.toString(), 18, true)).toBe(MAX_ORDER_AMOUNT)
    expect(() => toBaseUnits((MAX_ORDER_AMOUNT + 1n).toString(), 18, true)).toThrow(/ORDER_BAD_AMOUNT/)
  })

  it('formats base units in decimals without trailing zeros, and reads back what it writes', () => {
    expect(formatUnits(100n * E18, 18)).toBe('100')
    expect(formatUnits(15n * 10n ** 17n, 18)).toBe('1.5')
    expect(formatUnits(1n, 18)).toBe('0.000000000000000001')
    expect(formatUnits(0n, 18)).toBe('0')
    expect(formatUnits(7n, 0)).toBe('7')
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: MAX_ORDER_AMOUNT }), fc.integer({ min: 0, max: 36 }), (v, d) => {
        expect(toBaseUnits(formatUnits(v, d), d, false)).toBe(v)
      }),
      { seed: 21, numRuns: 500 },
    )
  })

  it('reads --batch as a height or +N', () => {
    expect(parseBatchFlag(undefined)).toEqual({})
    expect(parseBatchFlag('12')).toEqual({ batch: 12n })
    expect(parseBatchFlag('+3')).toEqual({ batchOffset: 3 })
    for (const bad of ['-1', '+', 'x', '1.5', '+-2'])
      expect(() => parseBatchFlag(bad)).toThrow(/ORDER_BAD_BATCH/)
  })
})
