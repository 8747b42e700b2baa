import { existsSync, writeFileSync } from 'node:fs'
import { AllotError, addressOf, encryptKeystore, randomPrivateKey, toHex } from '@allot/protocol'
import type { Command } from 'commander'
import { askPassword } from '../prompt.js'
import type { RegisterCommands } from './index.js'
import { registerKeystoreCommands } from './keystores.js'

/**
 * The keystore password: ALLOT_KEY_PASSWORD, else a hidden prompt on the terminal (CLI.md "Keys");
 * `confirm` (a new keystore) asks twice.
 */
export async function keyPassword(purpose: string, o: { confirm?: boolean } = {}): Promise<string> {
  return askPassword(purpose, o)
}

export const registerKeyCommands: RegisterCommands = (program: Command) => {
  const keys = program.command('keys').description('secp256k1 keys (trader and validator keys)')
  keys
    .command('generate')
    .description(
      'generate a secp256k1 key into an encrypted keystore (or raw hex with --hex); prints its address',
    )
    .requiredOption('--out <file>', 'where to write the key')
    .option('--hex', 'write a raw 0x hex key instead of a keystore (devnets only)')
    .option('--force', 'overwrite an existing file')
    .option('--json', 'print JSON')
    .action(async (o: { out: string; hex?: boolean; force?: boolean; json?: boolean }) => {
      if (existsSync(o.out) && !o.force)
        throw new AllotError('KEY_EXISTS', `${o.out} exists (use --force to overwrite)`)
      const key = randomPrivateKey()
      const address = addressOf(key)
      if (o.hex) writeFileSync(o.out, `${toHex(key)}\n`, { mode: 0o600 })
      else {
        const password = await keyPassword('new keystore', { confirm: true })
        // scrypt N = 2^14 when asked through ALLOT_KEYSTORE_LIGHT (tests); 2^17 otherwise (geth's default).
        const ks = encryptKeystore(
          key,
          password,
          process.env.ALLOT_KEYSTORE_LIGHT ? { scryptN: 1 << 14 } : {},
        )
        writeFileSync(o.out, `${JSON.stringify(ks, null, 2)}\n`, { mode: 0o600 })
      }
      if (o.json)
        process.stdout.write(
          `${JSON.stringify({ address, file: o.out, format: o.hex ? 'hex' : 'keystore-v3' })}\n`,
        )
      else process.stdout.write(`${address}\n`)
    })
  registerKeystoreCommands(keys)
}
