import type { BatchContent, Hex } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import {
  buildBatchContent,
  type HeldOrder,
  type ProposalContext,
  validateProposal,
} from '../../../src/consensus/index.js'

const id = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`
const PARENT = { hash: `0x${'ab'.repeat(32)}` as Hex, timestamp: 10_000n, chainRef: 50n }
const PARAMS = { batchIntervalMs: 1000, maxOrdersPerBatch: 3, inclusionGraceMs: 500, maxClockSkewMs: 200 }

function ctx(over: Partial<ProposalContext> & { held?: HeldOrder[]; known?: Hex[] } = {}): ProposalContext {
  const held = over.held ?? []
  const known = new Set([...(over.known ?? []), ...held.map((o) => o.id)])
  return {
    height: 7n,
    parent: PARENT,
    now: 11_100,
    params: PARAMS,
    orderStatus: (x) => (known.has(x) ? 'valid' : x === id(666) ? 'invalid' : 'unknown'),
    heldOrders: () => held,
    maxChainRef: 60n,
    ...over,
  }
}

function batch(over: Partial<BatchContent> = {}): BatchContent {
  return {
    height: 7n,
    parentHash: PARENT.hash,
    timestamp: 11_000n,
    chainRef: 55n,
    orderIds: [id(1), id(2)],
    ...over,
  }
}

describe('validateProposal', () => {
  it('accepts a well-formed batch that holds every order held in time', () => {
    const v = validateProposal(
      batch(),
      ctx({
        held: [
          { id: id(1), since: 0 },
          { id: id(2), since: 100 },
        ],
      }),
    )
    expect(v).toEqual({ valid: true, acceptable: true })
  })

  it.each([
    ['CONSENSUS_BAD_HEIGHT', { height: 8n }],
    ['CONSENSUS_BAD_PARENT', { parentHash: `0x${'cd'.repeat(32)}` as Hex }],
    ['CONSENSUS_BAD_TIMESTAMP', { timestamp: 10_999n }],
    ['CONSENSUS_BAD_CHAIN_REF', { chainRef: 49n }],
    ['CONSENSUS_TOO_MANY_ORDERS', { orderIds: [id(1), id(2), id(3), id(4)] }],
    ['CONSENSUS_BAD_ORDER_IDS', { orderIds: [id(2), id(1)] }],
    ['CONSENSUS_BAD_ORDER_IDS', { orderIds: [id(1), id(1)] }],
    ['CONSENSUS_BAD_ORDER_IDS', { orderIds: [`0x${'AB'.repeat(32)}` as Hex] }],
    ['CONSENSUS_INVALID_ORDER', { orderIds: [id(1), id(666)] }],
  ] as const)('rejects %s as invalid (objective)', (code, over) => {
    const v = validateProposal(
      batch(over as Partial<BatchContent>),
      ctx({ known: [id(1), id(2), id(3), id(4)] }),
    )
    expect(v).toMatchObject({ valid: false, acceptable: false, code })
  })

  it('asks for unknown orders before judging', () => {
    const v = validateProposal(batch({ orderIds: [id(1), id(9)] }), ctx({ known: [id(1)] }))
    expect(v).toMatchObject({ valid: false, code: 'CONSENSUS_UNKNOWN_ORDER', missing: [id(9)] })
  })

  it('refuses to prevote (but keeps valid) on a timestamp ahead of its clock or a chainRef beyond its view', () => {
    const known = [id(1), id(2)]
    expect(validateProposal(batch({ timestamp: 11_301n }), ctx({ known }))).toMatchObject({
      valid: true,
      acceptable: false,
      code: 'CONSENSUS_FUTURE_TIMESTAMP',
    })
    expect(validateProposal(batch({ chainRef: 61n }), ctx({ known }))).toMatchObject({
      valid: true,
      acceptable: false,
      code: 'CONSENSUS_CHAIN_REF_AHEAD',
    })
  })

  it('inclusion rule: refuses a batch omitting an order held since before timestamp − grace', () => {
    const held = [
      { id: id(1), since: 0 },
      { id: id(2), since: 0 },
      { id: id(5), since: 10_499 }, // before 11_000 − 500: must be in
    ]
    expect(validateProposal(batch(), ctx({ held }))).toMatchObject({
      valid: true,
      acceptable: false,
      code: 'CONSENSUS_CENSORS_ORDER',
    })
    // Held since exactly the cutoff or later: the proposer may not have it yet.
    held[2].since = 10_500
    expect(validateProposal(batch(), ctx({ held }))).toEqual({ valid: true, acceptable: true })
  })

  it('inclusion rule: a later round (a later timestamp) asks for no more orders than round 0 did', () => {
    // Received after parent + interval − grace (10_500): excused at round 0 (timestamp 11_000), and still
    // excused in a round proposed at 14_000, when an honest proposer may never have received it.
    const held = [
      { id: id(1), since: 0 },
      { id: id(2), since: 0 },
      { id: id(5), since: 10_600 },
    ]
    const later = batch({ timestamp: 14_000n })
    expect(validateProposal(later, ctx({ held, now: 14_000 }))).toEqual({ valid: true, acceptable: true })
    held[2].since = 10_400
    expect(validateProposal(later, ctx({ held, now: 14_000 }))).toMatchObject({
      code: 'CONSENSUS_CENSORS_ORDER',
    })
  })

  it('inclusion rule: another envelope of the same (trader, nonce) stands in for a held one (issue 24)', () => {
    // We hold id(5) (trader t, nonce 7) since long before; the proposer got the trader's other envelope
    // id(6) with that nonce first, and its intake refuses id(5) for good.
    const keys = new Map<Hex, { trader: string; nonce: bigint }>([
      [id(1), { trader: 'u', nonce: 1n }],
      [id(5), { trader: 't', nonce: 7n }],
      [id(6), { trader: 't', nonce: 7n }],
      [id(8), { trader: 't', nonce: 8n }],
    ])
    const held = [
      { id: id(1), since: 0, ...keys.get(id(1)) },
      { id: id(5), since: 0, ...keys.get(id(5)) },
    ]
    const orderKey = (x: Hex) => keys.get(x)
    const p = batch({ orderIds: [id(1), id(6)] })
    expect(validateProposal(p, ctx({ held, known: [id(6)], orderKey }))).toEqual({
      valid: true,
      acceptable: true,
    })
    // Both envelopes are fine too (the batch keeps one of them).
    const both = batch({ orderIds: [id(1), id(5), id(6)] })
    expect(validateProposal(both, ctx({ held, known: [id(6)], orderKey }))).toEqual({
      valid: true,
      acceptable: true,
    })
    // Another nonce of the same trader does not stand in for it.
    const other = batch({ orderIds: [id(1), id(8)] })
    expect(validateProposal(other, ctx({ held, known: [id(8)], orderKey }))).toMatchObject({
      code: 'CONSENSUS_CENSORS_ORDER',
    })
    // Without the keys (a caller that does not know them) the order is demanded on its own, as before.
    expect(validateProposal(p, ctx({ held, known: [id(6)] }))).toMatchObject({
      code: 'CONSENSUS_CENSORS_ORDER',
    })
  })

  it('inclusion rule: the per-trader cap of a trader’s orders stands in for its others (issue 24)', () => {
    // Cap 2: the proposer holds two orders of trader t (ids 5, 6), we hold two others (7, 8) and one of u.
    const keys = new Map<Hex, { trader: string; nonce: bigint }>(
      [5, 6, 7, 8].map((n) => [id(n), { trader: 't', nonce: BigInt(n) }] as const),
    )
    keys.set(id(1), { trader: 'u', nonce: 1n })
    const held = [1, 7, 8].map((n) => ({ id: id(n), since: 0, ...keys.get(id(n)) }))
    const params = { ...PARAMS, maxOrdersPerBatch: 10, perTraderMaxOrdersPerBatch: 2 }
    const orderKey = (x: Hex) => keys.get(x)
    const known = [id(5), id(6)]
    expect(
      validateProposal(batch({ orderIds: [id(1), id(5), id(6)] }), ctx({ held, known, orderKey, params })),
    ).toEqual({ valid: true, acceptable: true })
    // One short of the cap: ours are demanded.
    expect(
      validateProposal(batch({ orderIds: [id(1), id(5)] }), ctx({ held, known, orderKey, params })),
    ).toMatchObject({
      code: 'CONSENSUS_CENSORS_ORDER',
    })
    // The trader's cap does not excuse omitting another trader's order.
    expect(
      validateProposal(batch({ orderIds: [id(5), id(6)] }), ctx({ held, known, orderKey, params })),
    ).toMatchObject({
      code: 'CONSENSUS_CENSORS_ORDER',
      message: expect.stringContaining(id(1)),
    })
  })

  it('inclusion rule is waived when the batch is full', () => {
    const held = [1, 2, 3, 4].map((n) => ({ id: id(n), since: 0 }))
    const full = batch({ orderIds: [id(1), id(2), id(3)] })
    expect(validateProposal(full, ctx({ held }))).toEqual({ valid: true, acceptable: true })
  })
})

describe('buildBatchContent', () => {
  it('holds every order, ids ascending, timestamp at the cadence at the earliest, chainRef never decreasing', () => {
    const c = buildBatchContent({
      height: 7n,
      parent: PARENT,
      now: 10_500,
      batchIntervalMs: 1000,
      maxOrdersPerBatch: 10,
      chainRef: 40n,
      orders: [
        { id: id(3), since: 5 },
        { id: id(1), since: 9 },
        { id: id(2), since: 1 },
      ],
    })
    expect(c).toEqual({
      height: 7n,
      parentHash: PARENT.hash,
      timestamp: 11_000n,
      chainRef: 50n,
      orderIds: [id(1), id(2), id(3)],
    })
    expect(validateProposal(c, ctx({ now: 11_000, known: c.orderIds }))).toEqual({
      valid: true,
      acceptable: true,
    })
  })

  it('keeps the longest-held orders when over the cap', () => {
    const c = buildBatchContent({
      height: 7n,
      parent: PARENT,
      now: 12_000,
      batchIntervalMs: 1000,
      maxOrdersPerBatch: 2,
      chainRef: 60n,
      orders: [
        { id: id(3), since: 5 },
        { id: id(1), since: 9 },
        { id: id(2), since: 1 },
      ],
    })
    expect(c.orderIds).toEqual([id(2), id(3)])
    expect(c.timestamp).toBe(12_000n)
  })
})
