import { describe, expect, it } from 'vitest'
import {
  addressOf,
  decryptKeystore,
  encryptKeystore,
  isAllotError,
  privateKeyFromHex,
  toHex,
} from '../../src/index.js'

// The test vector of the Web3 Secret Storage definition (scrypt variant), password "testpassword".
const SPEC_VECTOR = {
  crypto: {
    cipher: 'aes-128-ctr',
    cipherparams: { iv: '83dbcc02d8ccb40e466191a123791e0e' },
    ciphertext: 'd172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c',
    kdf: 'scrypt',
    kdfparams: {
      dklen: 32,
      n: 262144,
      p: 8,
      r: 1,
      salt: 'ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19',
    },
    mac: '2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097',
  },
  id: '3198bc9c-6672-5ab3-d995-4942343ae5b6',
  version: 3,
}

describe('keystore v3', () => {
  it('opens the Web3 Secret Storage spec vector', () => {
    const key = decryptKeystore(SPEC_VECTOR, 'testpassword')
    expect(toHex(key)).toBe('0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d')
  })

  it('round-trips a key and refuses a wrong password with a code', () => {
    const key = privateKeyFromHex('0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318')
    const ks = encryptKeystore(key, 'hunter2', { scryptN: 1024 })
    expect(ks.address).toBe(addressOf(key).slice(2))
    expect(toHex(decryptKeystore(JSON.stringify(ks), 'hunter2'))).toBe(toHex(key))
    try {
      decryptKeystore(ks, 'wrong')
      expect.unreachable()
    } catch (e) {
      expect(isAllotError(e, 'KEY_BAD_PASSWORD')).toBe(true)
    }
  })

  it('refuses malformed files with KEY_BAD_KEYSTORE', () => {
    for (const bad of ['{', '{}', { version: 3 }, { version: 3, crypto: { cipher: 'aes-256-cbc' } }]) {
      try {
        decryptKeystore(bad, 'x')
        expect.unreachable()
      } catch (e) {
        expect(isAllotError(e, 'KEY_BAD_KEYSTORE')).toBe(true)
      }
    }
  })
})
