import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, join } from 'node:path'
import {
  AllotError,
  addressOf,
  decryptKeystore,
  encryptKeystore,
  type PrivateKey,
  toHex,
} from '@allot/protocol'
import type { Command } from 'commander'
import { keyNeedsPassword, loadSecpKey } from '../../config/index.js'
import { askPassword } from '../prompt.js'

/** The key directory: --dir, else ALLOT_KEY_DIR, else ~/.allot/keys. */
export function keyDir(flag?: string): string {
  return flag ?? process.env.ALLOT_KEY_DIR ?? join(homedir(), '.allot', 'keys')
}

export interface KeystoreEntry {
  name: string
  address: string
  file: string
}

/** The keystores (v3 JSON with an address) in a directory, by name; other files are left out. */
export function listKeystores(dir: string): KeystoreEntry[] {
  if (!existsSync(dir)) return []
  const out: KeystoreEntry[] = []
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const file = join(dir, f)
    try {
      const ks = JSON.parse(readFileSync(file, 'utf8')) as { version?: number; address?: string }
      if (ks.version !== 3 || typeof ks.address !== 'string') continue
      out.push({
        name: basename(f, '.json'),
        address: `0x${ks.address.replace(/^0x/, '').toLowerCase()}`,
        file,
      })
    } catch {
      // not JSON: not a keystore
    }
  }
  return out
}

function findKeystore(dir: string, ref: string): KeystoreEntry {
  const lower = ref.toLowerCase()
  const k = listKeystores(dir).find((e) => e.name === ref || e.address === lower)
  if (!k) throw new AllotError('KEY_NOT_FOUND', `no keystore named ${ref} in ${dir} (allot keys list)`)
  return k
}

function encrypt(key: PrivateKey, password: string) {
  // scrypt N = 2^14 when asked through ALLOT_KEYSTORE_LIGHT (tests); 2^17 otherwise (geth's default).
  return encryptKeystore(key, password, process.env.ALLOT_KEYSTORE_LIGHT ? { scryptN: 1 << 14 } : {})
}

function print(json: boolean | undefined, doc: unknown, human: string): void {
  process.stdout.write(json ? `${JSON.stringify(doc)}\n` : `${human}\n`)
}

/** `allot keys list|import|export` (CLI.md additions): keystores in the key directory. */
export function registerKeystoreCommands(keys: Command): void {
  keys
    .command('list')
    .description('the keystores in the key directory: name, address, file')
    .option('--dir <dir>', 'key directory (default: ALLOT_KEY_DIR or ~/.allot/keys)')
    .option('--json', 'print JSON')
    .action((o: { dir?: string; json?: boolean }) => {
      const dir = keyDir(o.dir)
      const list = listKeystores(dir)
      const human =
        list.length === 0
          ? `no keystores in ${dir}`
          : list.map((k) => `${k.name.padEnd(24)} ${k.address}  ${k.file}`).join('\n')
      print(o.json, { dir, keys: list }, human)
    })

  keys
    .command('import <source>')
    .description(
      'add a key to the key directory: a keystore file as is, or a hex key (or hex key file) encrypted under a new password',
    )
    .option('--name <name>', 'name in the key directory (default: the address)')
    .option('--dir <dir>', 'key directory (default: ALLOT_KEY_DIR or ~/.allot/keys)')
    .option('--force', 'replace a keystore of that name')
    .option('--json', 'print JSON')
    .action(async (source: string, o: { name?: string; dir?: string; force?: boolean; json?: boolean }) => {
      const dir = keyDir(o.dir)
      let text: string
      let address: string
      if (keyNeedsPassword(source)) {
        // A keystore: copied as it is (its password stays its own); checked to be one first.
        const ks = JSON.parse(readFileSync(source, 'utf8')) as { version?: number; address?: string }
        if (ks.version !== 3 || typeof ks.address !== 'string')
          throw new AllotError('KEY_BAD_KEYSTORE', `${source} is not a v3 keystore with an address`)
        address = `0x${ks.address.replace(/^0x/, '').toLowerCase()}`
        text = `${JSON.stringify(ks, null, 2)}\n`
      } else {
        const key = loadSecpKey(source)
        address = addressOf(key)
        text = `${JSON.stringify(encrypt(key, await askPassword('new keystore', { confirm: true })), null, 2)}\n`
      }
      const name = o.name ?? address
      if (!/^[A-Za-z0-9._-]+$/.test(name))
        throw new AllotError('CLI_BAD_FLAG', `--name may hold letters, digits, . _ - only, got ${name}`)
      const file = join(dir, `${name}.json`)
      if (existsSync(file) && !o.force)
        throw new AllotError('KEY_EXISTS', `${file} exists (use --force to replace it)`)
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      writeFileSync(file, text, { mode: 0o600 })
      print(o.json, { name, address, file }, `${address}  imported as ${name} (${file})`)
    })

  keys
    .command('export <name-or-address>')
    .description('print a keystore of the key directory (or, with --hex, its private key: devnets only)')
    .option('--dir <dir>', 'key directory (default: ALLOT_KEY_DIR or ~/.allot/keys)')
    .option('--hex', 'decrypt and print the raw private key')
    .option('--json', 'print JSON')
    .action(async (ref: string, o: { dir?: string; hex?: boolean; json?: boolean }) => {
      const k = findKeystore(keyDir(o.dir), ref)
      const ks = JSON.parse(readFileSync(k.file, 'utf8'))
      if (!o.hex) {
        print(o.json, ks, JSON.stringify(ks, null, 2))
        return
      }
      const key = decryptKeystore(ks, await askPassword(k.name))
      process.stderr.write('warning: this is the raw private key; whoever reads it owns the account\n')
      print(o.json, { name: k.name, address: k.address, privateKey: toHex(key) }, toHex(key))
    })
}
