import type { Command } from 'commander'

/** Each CLI concern registers its commands here; one module per command group. */
export type RegisterCommands = (program: Command) => void

export const commands: RegisterCommands[] = []
