/**
 * `@allot/node/client`: what a program needs to trade on an allot network through a node's API —
 * the client, order building, signing and sealing, and coded errors — without the node's server side
 * (no level, no gossipsub, no viem in its import graph; a unit test holds it to that). docs/client.md.
 */
export {
  AllotClient,
  buildOrder,
  type ClientOptions,
  type OrderSpec,
  type SubmittedOrder,
  sealPlain,
} from '../api/client.js'
