import '@allot/protocol/polyfill'
