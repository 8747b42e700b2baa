import { ctr } from '@noble/ciphers/aes.js'
import { pbkdf2 } from '@noble/hashes/pbkdf2.js'
import { scrypt } from '@noble/hashes/scrypt.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { type Address, concatBytes, equalBytes, fromHex, keccak256, toHex } from './bytes.js'
import { AllotError } from './errors.js'
import { addressOf, type PrivateKey } from './signing.js'

/**
 * Ethereum's keystore v3 (Web3 Secret Storage): scrypt (or pbkdf2 on read) + AES-128-CTR,
 * MAC = keccak256(derivedKey[16..32] ‖ ciphertext). Files written here open in geth, viem-based
 * wallets and MetaMask's importer, and theirs open here.
 */
export interface KeystoreV3 {
  version: 3
  id: string
  address: string
  crypto: {
    cipher: 'aes-128-ctr'
    cipherparams: { iv: string }
    ciphertext: string
    kdf: 'scrypt' | 'pbkdf2'
    kdfparams: Record<string, number | string>
    mac: string
  }
}

export interface KeystoreOptions {
  /** scrypt N (a power of two). Default 2^17: about a second here; tests pass a small N. */
  scryptN?: number
  /** Fixed randomness, for reproducible test vectors only. */
  salt?: Uint8Array
  iv?: Uint8Array
  uuid?: Uint8Array
}

const hex = (b: Uint8Array) => toHex(b).slice(2)

function uuidOf(b: Uint8Array): string {
  const u = b.slice(0, 16)
  u[6] = (u[6] & 0x0f) | 0x40
  u[8] = (u[8] & 0x3f) | 0x80
  const h = hex(u)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export function encryptKeystore(
  privateKey: PrivateKey,
  password: string,
  opts: KeystoreOptions = {},
): KeystoreV3 {
  const n = opts.scryptN ?? 1 << 17
  const salt = opts.salt ?? randomBytes(32)
  const iv = opts.iv ?? randomBytes(16)
  const dk = scrypt(new TextEncoder().encode(password), salt, { N: n, r: 8, p: 1, dkLen: 32 })
  const ciphertext = ctr(dk.subarray(0, 16), iv).encrypt(privateKey)
  const mac = keccak256(concatBytes(dk.subarray(16, 32), ciphertext))
  return {
    version: 3,
    id: uuidOf(opts.uuid ?? randomBytes(16)),
    address: addressOf(privateKey).slice(2),
    crypto: {
      cipher: 'aes-128-ctr',
      cipherparams: { iv: hex(iv) },
      ciphertext: hex(ciphertext),
      kdf: 'scrypt',
      kdfparams: { dklen: 32, n, r: 8, p: 1, salt: hex(salt) },
      mac: hex(mac),
    },
  }
}

function bad(message: string): never {
  throw new AllotError('KEY_BAD_KEYSTORE', message)
}

function hexField(v: unknown, name: string, len?: number): Uint8Array {
  if (typeof v !== 'string') bad(`${name} missing`)
  const s = v.startsWith('0x') ? v : `0x${v}`
  try {
    return fromHex(s, len, 'KEY_BAD_KEYSTORE')
  } catch {
    return bad(`${name} is not hex`)
  }
}

function intField(v: unknown, name: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > max) bad(`${name} out of range`)
  return v
}

/** Opens a keystore v3 document (parsed JSON or its text); a wrong password is `KEY_BAD_PASSWORD`. */
export function decryptKeystore(json: unknown, password: string): PrivateKey {
  let ks: unknown = json
  if (typeof json === 'string') {
    try {
      ks = JSON.parse(json)
    } catch {
      bad('not JSON')
    }
  }
  if (ks === null || typeof ks !== 'object') bad('not an object')
  const k = ks as Partial<KeystoreV3> & { Crypto?: KeystoreV3['crypto'] }
  if (k.version !== 3) bad(`unsupported keystore version ${String(k.version)}`)
  const c = k.crypto ?? k.Crypto
  if (!c || typeof c !== 'object') bad('crypto section missing')
  if (c.cipher !== 'aes-128-ctr') bad(`unsupported cipher ${String(c.cipher)}`)
  const p = c.kdfparams ?? {}
  const pw = new TextEncoder().encode(password)
  let dk: Uint8Array
  if (c.kdf === 'scrypt') {
    const n = intField(p.n, 'kdfparams.n', 1 << 22)
    if ((n & (n - 1)) !== 0) bad('kdfparams.n is not a power of two')
    dk = scrypt(pw, hexField(p.salt, 'kdfparams.salt'), {
      N: n,
      r: intField(p.r, 'kdfparams.r', 64),
      p: intField(p.p, 'kdfparams.p', 16),
      dkLen: intField(p.dklen, 'kdfparams.dklen', 64),
      maxmem: 2 ** 32,
    })
  } else if (c.kdf === 'pbkdf2') {
    if (p.prf !== 'hmac-sha256') bad(`unsupported prf ${String(p.prf)}`)
    dk = pbkdf2(sha256, pw, hexField(p.salt, 'kdfparams.salt'), {
      c: intField(p.c, 'kdfparams.c', 10_000_000),
      dkLen: intField(p.dklen, 'kdfparams.dklen', 64),
    })
  } else {
    return bad(`unsupported kdf ${String(c.kdf)}`)
  }
  if (dk.length < 32) bad('derived key shorter than 32 bytes')
  const ciphertext = hexField(c.ciphertext, 'ciphertext', 32)
  const mac = keccak256(concatBytes(dk.subarray(16, 32), ciphertext))
  if (!equalBytes(mac, hexField(c.mac, 'mac', 32))) {
    throw new AllotError('KEY_BAD_PASSWORD', 'wrong password (keystore MAC does not match)')
  }
  const key = ctr(dk.subarray(0, 16), hexField(c.cipherparams?.iv, 'cipherparams.iv', 16)).decrypt(ciphertext)
  if (typeof k.address === 'string' && k.address.length > 0) {
    const want = (k.address.startsWith('0x') ? k.address : `0x${k.address}`).toLowerCase()
    if (addressOf(key) !== want) bad('the key does not match the keystore address')
  }
  return key
}

export function keystoreAddress(ks: KeystoreV3): Address {
  return `0x${ks.address.replace(/^0x/, '').toLowerCase()}` as Address
}
