import { AllotError } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { clearBatch, formatSolveOutput, parseBatchFile, verifyResult } from '../../src/index.js'

const T1 = '0x1111111111111111111111111111111111111111'
const T2 = '0x2222222222222222222222222222222222222222'
const good = {
  numeraire: 'TKB',
  orders: [
    {
      id: 'o1',
      trader: T1,
      sellAsset: 'TKA',
      buyAsset: 'TKB',
      sellAmount: '1000',
      buyAmount: '900',
      kind: 'sell',
      partiallyFillable: true,
    },
    {
      id: 'o2',
      trader: T2,
      sellAsset: 'TKB',
      buyAsset: 'TKA',
      sellAmount: '500',
      buyAmount: '450',
      kind: 'sell',
      partiallyFillable: true,
    },
  ],
  balances: { [T1]: { TKA: '5000' }, [T2]: { TKB: '5000' } },
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f()
  } catch (e) {
    return e instanceof AllotError ? `${e.code} ${String(e.details?.field ?? '')}` : 'not-allot'
  }
  return undefined
}

describe('allot solve batch file', () => {
  it('parses the documented format and prints the CLI.md document', () => {
    const input = parseBatchFile(JSON.stringify(good))
    const out = clearBatch(input)
    verifyResult(input, out)
    const doc = formatSolveOutput(out)
    expect(doc).toEqual({
      // At o1's limit 9/10, 555 A would buy ⌊499.5⌋ = 499 < 555·900/1000 (its signed ratio allows only
      // multiples of 10 A there: 550); a hair inside, 9/10·(1 + 2⁻⁹), 554 A keep it (README rule 2).
      prices: { TKA: '4617', TKB: '5120' },
      fills: [
        { id: 'o1', sold: '554', bought: '499' },
        { id: 'o2', sold: '500', bought: '554' },
      ],
      dropped: [],
      objective: out.objective.toString(),
      resultHash: out.resultHash,
    })
  })

  it('names the bad field with a coded error', () => {
    const bad = (patch: (x: typeof good) => void) => {
      const x = structuredClone(good)
      patch(x)
      return codeOf(() => parseBatchFile(JSON.stringify(x)))
    }
    expect(codeOf(() => parseBatchFile('{'))).toMatch(/^SOLVER_INPUT_BAD_JSON/)
    expect(bad((x) => ((x.orders[1] as { sellAmount: string }).sellAmount = '-5'))).toBe(
      'SOLVER_INPUT_BAD_FIELD orders[1].sellAmount',
    )
    expect(bad((x) => ((x.orders[0] as { trader: string }).trader = 'alice'))).toBe(
      'SOLVER_INPUT_BAD_FIELD orders[0].trader',
    )
    expect(bad((x) => ((x.orders[0] as { kind: string }).kind = 'limit'))).toBe(
      'SOLVER_INPUT_BAD_FIELD orders[0].kind',
    )
    expect(bad((x) => ((x.orders[1] as { id: string }).id = 'o1'))).toBe(
      'SOLVER_INPUT_BAD_FIELD orders[1].id',
    )
    expect(bad((x) => ((x.balances[T1] as Record<string, string>).TKA = '1.5'))).toBe(
      `SOLVER_INPUT_BAD_FIELD balances.${T1}.TKA`,
    )
    expect(bad((x) => ((x as { numeraire?: string }).numeraire = undefined))).toBe(
      'SOLVER_INPUT_BAD_FIELD numeraire',
    )
  })
})
