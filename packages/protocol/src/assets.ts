import { type Address, type Hex, isAddress, isBytes32, keccak256, toHex } from './bytes.js'
import { AllotError } from './errors.js'

/**
 * An asset is an ERC-20 token (by address) or a resource class (a named unit of capacity,
 * e.g. `cpu.vcore-hour`). On the wire and on chain both are a bytes32 `AssetId`:
 * - token: the address left-padded with zeros (the top 12 bytes are zero);
 * - resource class: keccak256 of its UTF-8 name with the top byte forced to 0x01, so it never
 *   collides with a token id and the settlement contract tells the two apart with one shift.
 */
export type AssetId = Hex

const RESOURCE_CLASS = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$/

export function isResourceClassName(name: string): boolean {
  return name.length <= 64 && RESOURCE_CLASS.test(name)
}

export function tokenAssetId(address: Address): AssetId {
  if (!isAddress(address)) throw new AllotError('ORDER_BAD_ASSET', `not a token address: ${address}`)
  return `0x${'0'.repeat(24)}${address.slice(2).toLowerCase()}` as AssetId
}

export function resourceAssetId(name: string): AssetId {
  if (!isResourceClassName(name))
    throw new AllotError('ORDER_BAD_ASSET', `not a resource class name: ${name}`)
  const h = keccak256(new TextEncoder().encode(name))
  h[0] = 0x01
  return toHex(h)
}

export function isTokenAssetId(id: AssetId): boolean {
  return isBytes32(id) && /^0x0{24}/.test(id)
}

export function isResourceAssetId(id: AssetId): boolean {
  return isBytes32(id) && id.slice(2, 4) === '01'
}

export function tokenAddressOf(id: AssetId): Address {
  if (!isTokenAssetId(id)) throw new AllotError('ORDER_BAD_ASSET', `not a token asset id: ${id}`)
  return `0x${id.slice(26)}` as Address
}

/**
 * The asset id of a free-form asset name as used offline by `allot solve` (free symbols):
 * an address maps to its token id, a 32-byte hex to itself, anything else to a resource-style id.
 */
export function assetIdOf(name: string): AssetId {
  if (isAddress(name)) return tokenAssetId(name)
  if (isBytes32(name)) return name.toLowerCase() as AssetId
  const h = keccak256(new TextEncoder().encode(name))
  h[0] = 0x01
  return toHex(h)
}

export function assertAssetId(id: unknown): asserts id is AssetId {
  if (!isBytes32(id) || (!isTokenAssetId(id as Hex) && !isResourceAssetId(id as Hex))) {
    throw new AllotError('ORDER_BAD_ASSET', `not an asset id: ${String(id).slice(0, 80)}`)
  }
}
