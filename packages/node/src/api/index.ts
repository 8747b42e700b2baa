export * from './client.js'
export * from './server.js'
export * from './signer.js'
export * from './sync.js'
