import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { AllotError, decryptKeystore, type PrivateKey, privateKeyFromHex } from '@allot/protocol'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey as Libp2pPrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

/**
 * Loads a secp256k1 key (a trader's or a validator's): an Ethereum keystore v3 file (password from
 * `password`, else `ALLOT_KEY_PASSWORD`) or, on devnets, a raw 0x hex private key (CLI.md "Keys").
 */
export function loadSecpKey(ref: string, password?: string): PrivateKey {
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(ref) && !existsSync(ref)) return privateKeyFromHex(ref)
  // Hex that is not 64 digits is a mistyped key, not a file name: say so rather than ENOENT.
  if (/^0x[0-9a-fA-F]*$/.test(ref) && !existsSync(ref))
    throw new AllotError(
      'KEY_BAD_FORMAT',
      `not a 32-byte key: ${ref.length - 2} hex digits, a private key has 64 (or give a keystore file)`,
    )
  let text: string
  try {
    text = readFileSync(ref, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT')
      throw new AllotError(
        'KEY_NOT_FOUND',
        `no key file ${ref} (a keystore file, or on devnets a 0x + 64 hex key)`,
      )
    throw new AllotError('KEY_BAD_KEYSTORE', `cannot read key file ${ref}: ${(e as Error).message}`)
  }
  const trimmed = text.trim()
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(trimmed)) return privateKeyFromHex(trimmed)
  let json: unknown
  try {
    json = JSON.parse(trimmed)
  } catch {
    throw new AllotError('KEY_BAD_KEYSTORE', `${ref} is neither a keystore (JSON) nor a hex key`)
  }
  const pw = password ?? process.env.ALLOT_KEY_PASSWORD
  if (pw === undefined) throw new AllotError('KEY_BAD_PASSWORD', 'keystore password: set ALLOT_KEY_PASSWORD')
  return decryptKeystore(json, pw)
}

/** Whether a `--key` reference is a keystore (which needs a password) rather than a raw hex key or hex key file. */
export function keyNeedsPassword(ref: string): boolean {
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(ref) && !existsSync(ref)) return false
  try {
    return !/^(0x)?[0-9a-fA-F]{64}$/.test(readFileSync(ref, 'utf8').trim())
  } catch {
    return false
  }
}

/**
 * The node's network identity (libp2p peer id), kept apart from its validator key (DESIGN.md
 * "Identities and keys"): created on first start in `<dataDir>/peer-key`, reused after.
 */
export async function loadOrCreatePeerKey(dataDir: string): Promise<Libp2pPrivateKey> {
  const path = join(dataDir, 'peer-key')
  return existsSync(path) ? loadPeerKeyFile(path) : createPeerKeyFile(path)
}

/** A network identity kept in a file of its own (`node start --network-key`): libp2p's protobuf form. */
export function loadPeerKeyFile(path: string): Libp2pPrivateKey {
  let bytes: Uint8Array
  try {
    bytes = readFileSync(path)
  } catch (e) {
    throw new AllotError('KEY_BAD_KEYSTORE', `cannot read network key ${path}: ${(e as Error).message}`)
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (e) {
    throw new AllotError('KEY_BAD_KEYSTORE', `bad network key ${path}: ${(e as Error).message}`)
  }
}

/** Draws a new Ed25519 network identity and writes it to `path` (owner-only). */
export async function createPeerKeyFile(path: string): Promise<Libp2pPrivateKey> {
  mkdirSync(dirname(path), { recursive: true })
  const key = await generateKeyPair('Ed25519')
  writeFileSync(path, privateKeyToProtobuf(key), { mode: 0o600 })
  return key
}

/** The peer id (base58 string) a network identity key stands for. */
export function peerIdOfKey(key: Libp2pPrivateKey): string {
  return peerIdFromPrivateKey(key).toString()
}
