import type { Command } from 'commander'
import { registerBatchCommands } from './batch.js'
import { registerConfigCommands } from './config.js'
import { registerDevnetCommands } from './devnet.js'
import { registerFundsCommands } from './funds.js'
import { registerInfoCommands } from './info.js'
import { registerKeyCommands } from './keys.js'
import { registerNodeCommands } from './node.js'
import { registerOrderCommands } from './orders.js'
import { registerSolveCommands } from './solve.js'

/** Each CLI concern registers its commands here; one module per command group. */
export type RegisterCommands = (program: Command) => void

export const commands: RegisterCommands[] = [
  registerKeyCommands,
  registerNodeCommands,
  registerOrderCommands,
  registerBatchCommands,
  registerSolveCommands,
  registerFundsCommands,
  registerDevnetCommands,
  registerInfoCommands,
  registerConfigCommands,
]
