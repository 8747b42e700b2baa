import { AllotError } from '@allot/protocol'
import type { Command } from 'commander'
import {
  devnetDown,
  devnetInit,
  devnetKill,
  devnetLogs,
  devnetRestart,
  devnetStatus,
  devnetUp,
} from '../../devnet/index.js'
import type { RegisterCommands } from './index.js'

function intFlag(v: string, flag: string, min = 0): number {
  if (!/^[0-9]+$/.test(v) || Number(v) < min)
    throw new AllotError('CLI_BAD_FLAG', `${flag} must be an integer ≥ ${min}, got ${v}`)
  return Number(v)
}

function out(json: boolean, doc: unknown, human: string): void {
  process.stdout.write(json ? `${JSON.stringify(doc)}\n` : `${human}\n`)
}

/** Progress for humans goes to stderr, so `--json` keeps stdout to its one document. */
function progress(): (line: string) => void {
  const start = Date.now()
  return (line) =>
    process.stderr.write(`[${((Date.now() - start) / 1000).toFixed(1).padStart(5)} s] ${line}\n`)
}

export const registerDevnetCommands: RegisterCommands = (program: Command) => {
  const devnet = program.command('devnet').description('a local multi-validator network on this machine')

  devnet
    .command('up')
    .description(
      'start anvil, deploy the contracts, fund accounts, start validators; return once a batch is final',
    )
    .option('--validators <n>', 'number of validators', '4')
    .option('--dir <dir>', 'where everything of the devnet lives', '.devnet')
    .option('--batch-ms <ms>', 'batch interval', '1000')
    .option('--accounts <n>', 'funded trader accounts (up to 500)', '4')
    .option('--chain <chain>', 'anvil (start one) or the RPC URL of a running chain', 'anvil')
    .option('--reset', 'replace a devnet that already lives in --dir')
    .option('--json', 'print devnet.json on stdout')
    .action(async (o) => {
      const file = await devnetUp({
        dir: o.dir,
        validators: intFlag(o.validators, '--validators', 1),
        batchMs: intFlag(o.batchMs, '--batch-ms', 100),
        accounts: intFlag(o.accounts, '--accounts', 1),
        chain: o.chain,
        reset: o.reset === true,
        progress: progress(),
      })
      const human = [
        `devnet ${file.networkId} is up (${o.dir}/devnet.json)`,
        `  chain     ${file.rpcUrl} (chain id ${file.chainId})`,
        `  contract  ${file.settlement}`,
        `  tokens    TKA ${file.tokens.TKA}  TKB ${file.tokens.TKB}  TKC ${file.tokens.TKC}`,
        ...file.nodes.map((n) => `  node ${n.index}    ${n.api}    ${n.http}`),
        `  sealing   on; its first epoch (${o.dir}/epoch-0.json) comes from a TRUSTED DEALER: devnet only, the tool saw every batch key`,
        '  accounts (devnet keys, funded with 1,000,000 TKA, TKB and TKC in escrow each):',
        ...file.accounts.map((a) => `    ${a.address}  ${a.privateKey}`),
        `stop it with: allot devnet down --dir ${o.dir}`,
      ].join('\n')
      out(o.json === true, file, human)
    })

  devnet
    .command('init')
    .description(
      'prepare a devnet on a running chain without starting processes: keys, contracts, deposits, genesis (compose)',
    )
    .requiredOption('--chain <rpc-url>', "RPC URL of a running chain with anvil's default accounts")
    .option('--dir <dir>', 'where to write genesis.json, epoch-0.json, keys/ and init.json', '.devnet')
    .option('--validators <n>', 'number of validators', '4')
    .option('--batch-ms <ms>', 'batch interval', '1000')
    .option('--accounts <n>', 'funded trader accounts', '4')
    .option(
      '--host-template <host>',
      'host of validator i as the others reach it; {i} is its index',
      'validator-{i}',
    )
    .option(
      '--p2p-port <ports>',
      'P2P port: one for every validator, or a comma-separated port per validator',
      '9000',
    )
    .option('--json', 'print init.json on stdout')
    .action(async (o) => {
      const p2pPorts = String(o.p2pPort)
        .split(',')
        .map((v) => intFlag(v.trim(), '--p2p-port', 1))
      const file = await devnetInit({
        dir: o.dir,
        chain: o.chain,
        validators: intFlag(o.validators, '--validators', 1),
        batchMs: intFlag(o.batchMs, '--batch-ms', 100),
        accounts: intFlag(o.accounts, '--accounts', 1),
        hostTemplate: o.hostTemplate,
        p2pPorts,
        progress: progress(),
      })
      const human = [
        `devnet ${file.networkId} prepared in ${o.dir} (nothing started)`,
        `  contract  ${file.settlement}`,
        `  genesis   ${file.genesis}`,
        `  sealing   first epoch ${file.epoch} from a TRUSTED DEALER: devnet only`,
        ...file.validators.map(
          (v) =>
            `  validator ${v.index}: allot node start --genesis ${file.genesis} --data <dir> --listen ${v.listen} ` +
            `--validator-key ${v.validatorKey} --network-key ${v.networkKey} --sealing-epoch ${file.epoch} ` +
            `--sealing-shares ${v.sealingShares} --bootstrap-from-genesis --rpc-url ${file.rpcUrl}`,
        ),
      ].join('\n')
      out(o.json === true, file, human)
    })

  devnet
    .command('status')
    .description(
      'each validator: up, peers, height, last finalized and settled batch, and whether its results agree with the quorum',
    )
    .option('--dir <dir>', 'devnet directory', '.devnet')
    .option('--json', 'JSON output')
    .action(async (o) => {
      const s = await devnetStatus(o.dir)
      const rows = s.nodes.map(
        (n) =>
          `node ${n.index}  ${n.up ? 'up  ' : 'down'}  peers ${n.peers}  height ${n.height}  finalized ${n.finalized}  settled ${n.settled}  ${n.inResultQuorum ? 'in result quorum' : 'NOT in result quorum'}`,
      )
      out(o.json === true, s, rows.join('\n'))
    })

  devnet
    .command('down')
    .description('stop every process the devnet started, by PID')
    .option('--dir <dir>', 'devnet directory', '.devnet')
    .option('--clean', 'also remove the devnet directory')
    .option('--json', 'JSON output')
    .action(async (o) => {
      const r = await devnetDown(o.dir, o.clean === true)
      out(o.json === true, r, `stopped ${r.stopped} processes${o.clean ? `; removed ${o.dir}` : ''}`)
    })

  devnet
    .command('kill <index>')
    .description('fault drill: SIGKILL one validator')
    .option('--dir <dir>', 'devnet directory', '.devnet')
    .option('--json', 'JSON output')
    .action(async (index: string, o) => {
      const r = devnetKill(o.dir, intFlag(index, 'index'))
      out(o.json === true, r, `killed validator ${r.index} (pid ${r.pid})`)
    })

  devnet
    .command('logs <index>')
    .description('validator <index>’s log (JSON lines); -f keeps printing what it appends until interrupted')
    .option('--dir <dir>', 'devnet directory', '.devnet')
    .option('-f, --follow', 'keep printing new lines')
    .option('-n, --lines <n>', 'only the last n lines first')
    .action(async (index: string, o: { dir: string; follow?: boolean; lines?: string }) => {
      const stop = new AbortController()
      process.once('SIGINT', () => stop.abort())
      process.once('SIGTERM', () => stop.abort())
      await devnetLogs(o.dir, intFlag(index, 'index'), {
        follow: o.follow === true,
        lines: o.lines === undefined ? undefined : intFlag(o.lines, '--lines'),
        signal: stop.signal,
        write: (s) => process.stdout.write(s),
      })
    })

  devnet
    .command('restart <index>')
    .description('start a validator again on its existing data')
    .option('--dir <dir>', 'devnet directory', '.devnet')
    .option('--json', 'JSON output')
    .action(async (index: string, o) => {
      const r = await devnetRestart(o.dir, intFlag(index, 'index'))
      out(o.json === true, r, `restarted validator ${r.index} (pid ${r.pid})`)
    })
}
