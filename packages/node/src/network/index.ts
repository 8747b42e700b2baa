export * from './gossip.js'
export * from './host.js'
export * from './reqresp.js'
export * from './topics.js'
