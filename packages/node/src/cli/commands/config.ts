import type { Command } from 'commander'
import {
  CONFIG_DESCRIPTION,
  CONFIG_KEYS,
  configPath,
  configValue,
  readConfig,
  writeConfigValue,
} from '../config.js'
import type { RegisterCommands } from './index.js'

export const registerConfigCommands: RegisterCommands = (program: Command) => {
  const config = program.command('config').description(CONFIG_DESCRIPTION)
  const write = (json: boolean | undefined, doc: unknown, line: string) =>
    process.stdout.write(`${json ? JSON.stringify(doc) : line}\n`)

  config
    .command('set <name> <value>')
    .description(
      Object.entries(CONFIG_KEYS)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; '),
    )
    .option('--json', 'print JSON')
    .action((name: string, value: string, o: { json?: boolean }) => {
      writeConfigValue(name, value)
      write(o.json, { name, value, path: configPath() }, `${name} = ${value}  (${configPath()})`)
    })
  config
    .command('get <name>')
    .option('--json', 'print JSON')
    .action((name: string, o: { json?: boolean }) => {
      const value = configValue(name)
      write(o.json, { name, value: value ?? null }, value ?? '')
    })
  config
    .command('unset <name>')
    .option('--json', 'print JSON')
    .action((name: string, o: { json?: boolean }) => {
      writeConfigValue(name, undefined)
      write(o.json, { name, value: null }, `${name} unset`)
    })
  config
    .command('list')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
      const c = readConfig()
      write(
        o.json,
        { path: configPath(), settings: c },
        [`# ${configPath()}`, ...Object.entries(c).map(([k, v]) => `${k} = ${v}`)].join('\n'),
      )
    })
}
