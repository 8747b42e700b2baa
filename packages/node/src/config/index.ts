export * from './genesis.js'
export * from './keys.js'
