import { readFileSync } from 'node:fs'
import {
  type Address,
  AllotError,
  type AssetId,
  isAddress,
  isResourceClassName,
  type NetworkDomain,
  resourceAssetId,
  tokenAssetId,
} from '@allot/protocol'

/** A validator as genesis names it: its on-chain identity and where to reach it. */
export interface GenesisValidator {
  address: Address
  peerId: string
  multiaddr: string
}

export interface GenesisAsset {
  symbol: string
  kind: 'token' | 'resource'
  /** Token address (kind token). */
  address?: Address
  /** Resource class name (kind resource). */
  class?: string
  decimals: number
  /** Derived: the bytes32 asset id used on the wire and on chain. */
  id: AssetId
}

export interface ConsensusTimeouts {
  proposeMs: number
  prevoteMs: number
  precommitMs: number
  /** Added per round (Tendermint: timeouts grow with the round). */
  deltaMs: number
  /** No timeout exceeds this. */
  capMs: number
}

export interface BondParams {
  /** Symbol of the bond token (one of `assets`). */
  token: string
  minBond: bigint
  invalidOrderFee: bigint
  /**
   * Bond every trader is assumed to hold until a chain adapter reads real balances
   * (the `GenesisBondReader`); devnets and tests only.
   */
  allowance: bigint
}

/** A network's genesis: everything nodes must agree on before the first batch. See docs/genesis.md. */
export interface Genesis {
  networkId: string
  chainId: bigint
  settlement: Address
  /** ms since the epoch; batch h's proposal time is genesisTime + h·batchIntervalMs. */
  genesisTime: number
  validators: GenesisValidator[]
  batchIntervalMs: number
  intakeCutoffMs: number
  inclusionGraceMs: number
  timeouts: ConsensusTimeouts
  bond: BondParams
  feeBps: number
  maxOrdersPerBatch: number
  maxFillsPerBatch: number
  perTraderMaxOrdersPerBatch: number
  assets: GenesisAsset[]
  sealing: SealingParams
}

/**
 * Sealing (docs/sealing.md). The DKG fields are optional: absent, they follow from the batch interval
 * (sealing/dkg.ts `dkgScheduleOf`). Short values let tests and devnets cross epoch boundaries quickly.
 */
export interface SealingParams {
  enabled: boolean
  /** Heights of every epoch the validators' DKG makes. */
  epochLength?: number
  /** Heights each DKG window (deal, complaint, answer, accusation) lasts; at least 2. */
  dkgPhaseHeights?: number
  /** The DKG of the next epoch begins this many heights before the current one ends (≥ 4 windows). */
  dkgLeadHeights?: number
}

function sealingParams(v: unknown): SealingParams {
  const s = obj(v ?? { enabled: false }, 'sealing')
  const out: SealingParams = { enabled: s.enabled === true }
  if (s.epochLength !== undefined) out.epochLength = int(s.epochLength, 'sealing.epochLength', 1, 100_000)
  if (s.dkgPhaseHeights !== undefined)
    out.dkgPhaseHeights = int(s.dkgPhaseHeights, 'sealing.dkgPhaseHeights', 2, 1_000_000)
  if (s.dkgLeadHeights !== undefined) {
    out.dkgLeadHeights = int(s.dkgLeadHeights, 'sealing.dkgLeadHeights', 8, 10_000_000)
    if (out.dkgPhaseHeights !== undefined && out.dkgLeadHeights < 4 * out.dkgPhaseHeights)
      bad('sealing.dkgLeadHeights must leave room for the four DKG windows (4 · dkgPhaseHeights)')
  }
  return out
}

function bad(message: string): never {
  throw new AllotError('GENESIS_INVALID', message)
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(`${what} must be an object`)
  return v as Record<string, unknown>
}

function int(v: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    bad(`${what} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`)
  }
  return v
}

function big(v: unknown, what: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v)
  if (typeof v === 'string' && /^[0-9]+$/.test(v)) return BigInt(v)
  return bad(`${what} must be a non-negative integer (a decimal string), got ${JSON.stringify(v)}`)
}

function string(v: unknown, what: string, re?: RegExp): string {
  if (typeof v !== 'string' || v.length === 0 || (re && !re.test(v)))
    bad(`${what} is not valid: ${JSON.stringify(v)}`)
  return v
}

function addr(v: unknown, what: string): Address {
  if (!isAddress(v)) bad(`${what} must be a 0x address, got ${JSON.stringify(v)}`)
  return v.toLowerCase() as Address
}

/** Validates a parsed genesis document; every problem is a `GENESIS_INVALID` AllotError naming the field. */
/** The least margin of `inclusionGraceMs` over `intakeCutoffMs`: a gossip latency on a busy network (ms). */
export const MIN_INCLUSION_MARGIN_MS = 100

export function parseGenesis(json: unknown): Genesis {
  const g = obj(json, 'genesis')
  const t = obj(g.timeouts ?? {}, 'timeouts')
  const b = obj(g.bond, 'bond')
  const validators = g.validators
  if (!Array.isArray(validators)) bad('validators must be an array')
  const assetsIn = g.assets
  if (!Array.isArray(assetsIn) || assetsIn.length === 0) bad('assets must be a non-empty array')
  const assets: GenesisAsset[] = assetsIn.map((a, i) => {
    const o = obj(a, `assets[${i}]`)
    const symbol = string(o.symbol, `assets[${i}].symbol`, /^[A-Za-z0-9._-]{1,32}$/)
    const decimals = int(o.decimals, `assets[${i}].decimals`, 0, 77)
    if (o.kind === 'token') {
      const address = addr(o.address, `assets[${i}].address`)
      return { symbol, kind: 'token', address, decimals, id: tokenAssetId(address) }
    }
    if (o.kind === 'resource') {
      const cls = string(o.class, `assets[${i}].class`)
      if (!isResourceClassName(cls)) bad(`assets[${i}].class is not a resource class name: ${cls}`)
      return { symbol, kind: 'resource', class: cls, decimals, id: resourceAssetId(cls) }
    }
    return bad(`assets[${i}].kind must be token or resource`)
  })
  const symbols = new Set<string>()
  for (const a of assets) {
    if (symbols.has(a.symbol)) bad(`asset symbol ${a.symbol} appears twice`)
    symbols.add(a.symbol)
  }
  const bondToken = string(b.token, 'bond.token')
  if (!symbols.has(bondToken)) bad(`bond.token ${bondToken} is not one of assets`)
  const minBond = big(b.minBond, 'bond.minBond')
  const genesis: Genesis = {
    networkId: string(g.networkId, 'networkId', /^[a-z0-9][a-z0-9-]{0,62}$/),
    chainId: big(g.chainId, 'chainId'),
    settlement: addr(g.settlement, 'settlement'),
    genesisTime: int(g.genesisTime, 'genesisTime'),
    validators: validators.map((v, i) => {
      const o = obj(v, `validators[${i}]`)
      return {
        address: addr(o.address, `validators[${i}].address`),
        peerId: string(o.peerId, `validators[${i}].peerId`),
        multiaddr: string(o.multiaddr, `validators[${i}].multiaddr`),
      }
    }),
    batchIntervalMs: int(g.batchIntervalMs, 'batchIntervalMs', 100),
    intakeCutoffMs: int(g.intakeCutoffMs, 'intakeCutoffMs'),
    inclusionGraceMs: int(
      g.inclusionGraceMs ??
        Number(g.intakeCutoffMs) +
          Math.max(MIN_INCLUSION_MARGIN_MS, Math.floor(Number(g.batchIntervalMs) / 5)),
      'inclusionGraceMs',
    ),
    timeouts: {
      proposeMs: int(t.proposeMs ?? 1000, 'timeouts.proposeMs', 1),
      prevoteMs: int(t.prevoteMs ?? 500, 'timeouts.prevoteMs', 1),
      precommitMs: int(t.precommitMs ?? 500, 'timeouts.precommitMs', 1),
      deltaMs: int(t.deltaMs ?? 250, 'timeouts.deltaMs'),
      capMs: int(t.capMs ?? 10_000, 'timeouts.capMs', 1),
    },
    bond: {
      token: bondToken,
      minBond,
      invalidOrderFee: big(b.invalidOrderFee ?? 0, 'bond.invalidOrderFee'),
      allowance: big(b.allowance ?? minBond.toString(), 'bond.allowance'),
    },
    feeBps: int(g.feeBps ?? 0, 'feeBps', 0, 10_000),
    maxOrdersPerBatch: int(g.maxOrdersPerBatch, 'maxOrdersPerBatch', 1, 100_000),
    maxFillsPerBatch: int(g.maxFillsPerBatch, 'maxFillsPerBatch', 1),
    perTraderMaxOrdersPerBatch: int(g.perTraderMaxOrdersPerBatch, 'perTraderMaxOrdersPerBatch', 1),
    assets,
    sealing: sealingParams(g.sealing),
  }
  if (genesis.intakeCutoffMs >= genesis.batchIntervalMs) bad('intakeCutoffMs must be below batchIntervalMs')
  // The inclusion rule may demand only orders every honest proposer has had time to receive: those held
  // since before the cut-off by more than a gossip latency. A shorter grace lets validators refuse honest
  // proposals round after round (CENSORS_ORDER) over an order that was still in flight.
  if (
    genesis.validators.length > 0 &&
    genesis.inclusionGraceMs < genesis.intakeCutoffMs + MIN_INCLUSION_MARGIN_MS
  )
    bad(`inclusionGraceMs must be at least intakeCutoffMs + ${MIN_INCLUSION_MARGIN_MS} (a gossip latency)`)
  const seen = new Set<string>()
  for (const v of genesis.validators) {
    if (seen.has(v.address)) bad(`validator ${v.address} appears twice`)
    seen.add(v.address)
  }
  return genesis
}

export function loadGenesis(path: string): Genesis {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new AllotError('GENESIS_INVALID', `cannot read genesis ${path}: ${(e as Error).message}`)
  }
  try {
    return parseGenesis(JSON.parse(text))
  } catch (e) {
    if (e instanceof AllotError) throw e
    throw new AllotError('GENESIS_INVALID', `genesis ${path} is not JSON: ${(e as Error).message}`)
  }
}

/** The genesis as JSON (bigints as decimal strings; derived asset ids left out). */
export function genesisToJson(g: Genesis): Record<string, unknown> {
  return {
    ...g,
    chainId: g.chainId.toString(),
    bond: {
      ...g.bond,
      minBond: g.bond.minBond.toString(),
      invalidOrderFee: g.bond.invalidOrderFee.toString(),
      allowance: g.bond.allowance.toString(),
    },
    assets: g.assets.map(({ id: _id, ...a }) => a),
  }
}

export function domainOf(g: Genesis): NetworkDomain {
  return { chainId: g.chainId, verifyingContract: g.settlement }
}

/** Finds an asset by symbol, token address or resource class name (CLI.md `ASSET`). */
export function findAsset(g: Genesis, ref: string): GenesisAsset | undefined {
  const lower = ref.toLowerCase()
  return g.assets.find(
    (a) =>
      a.symbol === ref ||
      a.symbol.toLowerCase() === lower ||
      a.address === lower ||
      a.class === ref ||
      a.id === lower,
  )
}
