// Batches that carry DKG refs (BatchContent.dkgRefs, docs/sealing.md "The exact rule"): a validator
// votes for them only once it holds every referenced broadcast; the wire round-trips them and leaves
// batches without refs as they were.
import { type BatchContent, batchContentCodec, decode, encode, type Hex } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { buildBatchContent, type ProposalContext, validateProposal } from '../../../src/consensus/index.js'

const id = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`
const PARENT = { hash: `0x${'ab'.repeat(32)}` as Hex, timestamp: 10_000n, chainRef: 50n }
const PARAMS = { batchIntervalMs: 1000, maxOrdersPerBatch: 3, inclusionGraceMs: 500, maxClockSkewMs: 200 }
const held = new Set([id(7), id(8)])

function ctx(over: Partial<ProposalContext> = {}): ProposalContext {
  return {
    height: 7n,
    parent: PARENT,
    now: 11_100,
    params: PARAMS,
    orderStatus: () => 'valid',
    heldOrders: () => [],
    dkgRefStatus: (r) => (held.has(r) ? 'valid' : 'unknown'),
    ...over,
  }
}

const batch = (dkgRefs?: Hex[]): BatchContent => ({
  height: 7n,
  parentHash: PARENT.hash,
  timestamp: 11_000n,
  chainRef: 55n,
  orderIds: [],
  ...(dkgRefs ? { dkgRefs } : {}),
})

describe('DKG refs in a batch', () => {
  it('valid when every referenced broadcast is held; missing ones are fetched before voting', () => {
    expect(validateProposal(batch([id(7), id(8)]), ctx())).toEqual({ valid: true, acceptable: true })
    expect(validateProposal(batch([id(7), id(9)]), ctx())).toMatchObject({
      valid: false,
      acceptable: false,
      code: 'CONSENSUS_UNKNOWN_DKG_REF',
      missing: [id(9)],
    })
  })

  it('refuses refs out of order, duplicated, or on a network without a DKG', () => {
    expect(validateProposal(batch([id(8), id(7)]), ctx()).code).toBe('CONSENSUS_BAD_DKG_REFS')
    expect(validateProposal(batch([id(7), id(7)]), ctx()).code).toBe('CONSENSUS_BAD_DKG_REFS')
    const v = validateProposal(batch([id(7)]), ctx({ dkgRefStatus: undefined }))
    expect(v).toMatchObject({ valid: false, code: 'CONSENSUS_BAD_DKG_REFS' })
  })

  it('round-trips on the wire; a batch without refs decodes without the field', () => {
    for (const c of [batch(), batch([id(7), id(8)])])
      expect(decode(batchContentCodec, encode(batchContentCodec, c))).toEqual(c)
    const built = buildBatchContent({
      height: 7n,
      parent: PARENT,
      now: 11_000,
      batchIntervalMs: 1000,
      maxOrdersPerBatch: 3,
      chainRef: 55n,
      orders: [],
      dkgRefs: [],
    })
    expect('dkgRefs' in built).toBe(false)
  })
})
