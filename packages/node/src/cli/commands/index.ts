import type { Command } from 'commander'
import { CONFIG_DESCRIPTION } from '../config.js'

/** Each CLI concern registers its commands from its own module; one module per command group. */
export type RegisterCommands = (program: Command) => void

/**
 * A command group: the top-level commands one module registers, and how to load that module.
 * A group's module (and its imports: libp2p, viem, level, the solver…) loads only when one of its
 * commands runs or asks for its own help; `allot --help` lists every group from `commands` alone.
 * A unit test checks that each group's names and descriptions here are the ones its module registers.
 */
export interface CommandGroup {
  /** Top-level command names and the descriptions `allot --help` lists for them. */
  commands: { name: string; description: string }[]
  load: () => Promise<RegisterCommands>
}

export const commandGroups: CommandGroup[] = [
  {
    commands: [{ name: 'keys', description: 'secp256k1 keys (trader and validator keys)' }],
    load: async () => (await import('./keys.js')).registerKeyCommands,
  },
  {
    commands: [{ name: 'node', description: 'run an allot node' }],
    load: async () => (await import('./node.js')).registerNodeCommands,
  },
  {
    commands: [
      { name: 'order', description: 'submit, cancel and follow orders' },
      { name: 'balance', description: 'escrow, available and pending-withdrawal balances of an address' },
    ],
    load: async () => (await import('./orders.js')).registerOrderCommands,
  },
  {
    commands: [{ name: 'batch', description: 'finalized batches' }],
    load: async () => (await import('./batch.js')).registerBatchCommands,
  },
  {
    commands: [
      {
        name: 'solve',
        description:
          "clear one batch offline with the validators' solver (batch file format: packages/solver/README.md)",
      },
    ],
    load: async () => (await import('./solve.js')).registerSolveCommands,
  },
  {
    commands: [
      { name: 'deposit', description: 'deposit a token into escrow (approves the contract first)' },
      { name: 'withdraw', description: 'withdraw a token from escrow: request, then claim' },
    ],
    load: async () => (await import('./funds.js')).registerFundsCommands,
  },
  {
    commands: [{ name: 'devnet', description: 'a local multi-validator network on this machine' }],
    load: async () => (await import('./devnet.js')).registerDevnetCommands,
  },
  {
    commands: [
      {
        name: 'simulate',
        description: 'generate a seeded agent-based market history (JSONL, docs/backtest.md)',
      },
      {
        name: 'backtest',
        description:
          'replay a history (JSONL, or a directory of `allot solve` batch files such as the GP v1 ones) through the solver and a continuous book',
      },
    ],
    load: async () => (await import('./backtest.js')).registerBacktestCommands,
  },
  {
    commands: [{ name: 'completion', description: 'print a shell completion script (bash or zsh)' }],
    load: async () => (await import('./completion.js')).registerCompletionCommands,
  },
  {
    commands: [
      {
        name: 'info',
        description:
          'the network and node: open batch and when it closes, interval, assets with decimals, validators, sync state',
      },
    ],
    load: async () => (await import('./info.js')).registerInfoCommands,
  },
  {
    commands: [{ name: 'config', description: CONFIG_DESCRIPTION }],
    load: async () => (await import('./config.js')).registerConfigCommands,
  },
]
