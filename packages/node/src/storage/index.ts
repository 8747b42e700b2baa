export * from './db.js'
