import '@allot/protocol/polyfill'
import { keccakReady } from '@allot/protocol'

// Tests run the hashing the nodes run (WebAssembly keccak); keccak.test.ts compares it with noble.
await keccakReady()
