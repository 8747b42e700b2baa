import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { AllotError } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import {
  allTopics,
  codeOfStreamError,
  GOSSIP_ACTIONS,
  topicOf,
  verdictOf,
} from '../../../src/network/index.js'

describe('gossip verdicts (one place)', () => {
  it('accepts, ignores and rejects by code', () => {
    expect(verdictOf(undefined)).toBe('accept')
    for (const c of [
      'ORDER_DUPLICATE',
      'ORDER_TARGET_CLOSED',
      'ORDER_RATE_LIMITED',
      'ORDER_MEMPOOL_FULL',
      'ORDER_NOT_FOUND',
      'API_INTERNAL',
      'ORDER_INSUFFICIENT_BOND',
    ]) {
      expect(verdictOf(new AllotError(c, 'x'))).toBe('ignore')
    }
    for (const c of [
      'WIRE_MALFORMED',
      'WIRE_TOO_LARGE',
      'ORDER_BAD_SIGNATURE',
      'ORDER_BAD_AMOUNT',
      'ORDER_UNKNOWN_ASSET',
      'ORDER_PLAIN_REFUSED',
      'ORDER_BAD_BATCH',
    ]) {
      expect(verdictOf(new AllotError(c, 'x'))).toBe('reject')
    }
    // our own failures are never the peer's fault
    expect(verdictOf(new Error('disk full'))).toBe('ignore')
    expect(verdictOf(new TypeError('bug'))).toBe('ignore')
    // an error may carry its own action: a share of an epoch we lack is ours to miss, not the sender's fault
    expect(verdictOf(new AllotError('SEAL_NO_BATCH_KEY', 'x'))).toBe('reject')
    expect(verdictOf(new AllotError('SEAL_NO_BATCH_KEY', 'x', { gossip: 'ignore' }))).toBe('ignore')
  })
  it('every code of a message check in the sources has its own gossip action in the table', () => {
    // The families a gossiped message's check can end in; a new code there without an entry fails here.
    const family = /'((?:ORDER|CONSENSUS|SEAL|WIRE|API|SIG|BATCH)_[A-Z0-9_]+)'/g
    const root = join(__dirname, '../../../..')
    const codes = new Set<string>()
    const walk = (dir: string): void => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f)
        if (statSync(p).isDirectory()) walk(p)
        else if (p.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(family)) codes.add(m[1])
      }
    }
    for (const pkg of ['protocol', 'node', 'solver']) walk(join(root, pkg, 'src'))
    expect(codes.size).toBeGreaterThan(50)
    expect([...codes].filter((c) => GOSSIP_ACTIONS[c] === undefined)).toEqual([])
  })
  it('names topics per network', () => {
    expect(topicOf('devnet', 'orders')).toBe('/allot/devnet/orders/1')
    expect(allTopics('x').map((t) => t.topic)).toEqual([
      '/allot/x/orders/1',
      '/allot/x/consensus/1',
      '/allot/x/unseal/1',
      '/allot/x/results/1',
      '/allot/x/dkg/2',
    ])
  })
  it('maps framing failures to stable codes', () => {
    const named = (name: string) => Object.assign(new Error('m'), { name })
    expect(codeOfStreamError(named('InvalidDataLengthError')).code).toBe('WIRE_TOO_LARGE')
    expect(codeOfStreamError(named('UnexpectedEOFError')).code).toBe('WIRE_MALFORMED')
    expect(codeOfStreamError(named('AbortError')).code).toBe('API_TIMEOUT')
    expect(codeOfStreamError(new Error('boom')).code).toBe('API_INTERNAL')
  })
})
