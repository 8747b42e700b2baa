export * from './db.js'
export * from './id-filter.js'
