import { isAllotError } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { findAsset, genesisToJson, parseGenesis } from '../../../src/config/index.js'

const base = {
  networkId: 'unit',
  chainId: '31337',
  settlement: '0x5e77000000000000000000000000000000000001',
  genesisTime: 1_700_000_000_000,
  validators: [
    {
      address: '0x00000000000000000000000000000000000000a1',
      peerId: '12D3KooWx',
      multiaddr: '/ip4/127.0.0.1/tcp/1',
    },
  ],
  batchIntervalMs: 1000,
  intakeCutoffMs: 200,
  bond: { token: 'TKA', minBond: '100' },
  maxOrdersPerBatch: 100,
  maxFillsPerBatch: 100,
  perTraderMaxOrdersPerBatch: 10,
  assets: [
    { symbol: 'TKA', kind: 'token', address: '0x00000000000000000000000000000000000000AA', decimals: 18 },
    { symbol: 'CPU', kind: 'resource', class: 'cpu.vcore-hour', decimals: 0 },
  ],
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f()
  } catch (e) {
    return isAllotError(e) ? `${e.code}:${e.message}` : 'other'
  }
  return undefined
}

describe('genesis', () => {
  it('parses and normalises a valid genesis, with defaults', () => {
    const g = parseGenesis(base)
    expect(g.chainId).toBe(31337n)
    expect(g.assets[0].address).toBe('0x00000000000000000000000000000000000000aa')
    expect(g.assets[0].id).toBe(`0x${'0'.repeat(24)}${'00'.repeat(19)}aa`)
    expect(g.assets[1].id.slice(0, 4)).toBe('0x01')
    expect(g.bond.allowance).toBe(100n)
    expect(g.sealing.enabled).toBe(false)
    expect(g.timeouts.capMs).toBe(10_000)
    expect(g.inclusionGraceMs).toBe(200 + 200) // cut-off + max(100, interval / 5)
    expect(findAsset(g, 'cpu.vcore-hour')?.symbol).toBe('CPU')
    expect(findAsset(g, 'tka')?.symbol).toBe('TKA')
    expect(parseGenesis(JSON.parse(JSON.stringify(genesisToJson(g))))).toEqual(g)
  })

  it.each([
    ['networkId', { networkId: 'Bad Id' }],
    ['settlement', { settlement: '0x12' }],
    ['intakeCutoffMs', { intakeCutoffMs: 5000 }],
    ['bond.token', { bond: { token: 'NOPE', minBond: '1' } }],
    [
      'assets[1].class',
      { assets: [base.assets[0], { symbol: 'X', kind: 'resource', class: 'Bad Class', decimals: 0 }] },
    ],
    ['appears twice', { assets: [base.assets[0], base.assets[0]] }],
    ['chainId', { chainId: -1 }],
    ['validators', { validators: {} }],
    // With validators, the inclusion grace must exceed the cut-off by a gossip latency (issue 24).
    ['inclusionGraceMs', { inclusionGraceMs: 250 }],
  ])('refuses a bad %s with GENESIS_INVALID', (what, over) => {
    const c = codeOf(() => parseGenesis({ ...base, ...over }))
    expect(c).toMatch(/^GENESIS_INVALID:/)
    expect(c).toContain(what)
  })
})
