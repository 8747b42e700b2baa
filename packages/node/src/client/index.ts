/**
 * `@allot/node/client`: what a program needs to trade on an allot network through a node's API —
 * the client, order building, signers (a raw key, a viem LocalAccount or WalletClient), sealing, and
 * coded errors — without the node's server side: no level, no gossipsub, no viem in its import graph
 * (test/client-sdk.test.ts holds it to that). docs/client.md.
 */

export {
  type Address,
  AllotError,
  type BalanceView,
  type BatchView,
  type Hex,
  isAllotError,
  type NodeInfo,
  type OrderStatus,
  type PrivateKey,
  privateKeyFromHex,
  type SubmitOutcome,
} from '@allot/protocol'
export {
  AllotClient,
  buildOrder,
  type ClientOptions,
  type OrderSpec,
  type SubmittedOrder,
  sealPlain,
} from '../api/client.js'
export {
  type LocalAccountLike,
  type OrderSigner,
  type SignerInput,
  signAndSeal,
  signerFrom,
  type WalletClientLike,
} from '../api/signer.js'

/**
 * The codes a client call can fail with, besides the node's own refusals (`ORDER_*`, `BATCH_NOT_FOUND`,
 * …, passed through as the node sent them): every failure is an `AllotError` with one of these `code`s.
 */
export type ClientErrorCode =
  | 'API_BAD_REQUEST' // not a node address (multiaddr ending in /p2p/<peer id>)
  | 'API_UNAVAILABLE' // the node cannot be reached
  | 'API_TIMEOUT' // no answer within the deadline
  | 'ORDER_UNKNOWN_ASSET' // an asset the network does not know
  | 'ORDER_BAD_AMOUNT' // an amount ≤ 0 or above 2¹¹² − 1
  | 'ORDER_BAD_ASSET' // sell and buy the same asset
  | 'ORDER_BAD_BATCH' // validBatches < 1
  | 'ORDER_TARGET_CLOSED' // the named batch is closed
  | 'KEY_BAD_FORMAT' // a hex key that is not 32 bytes
  | 'CLIENT_BAD_SIGNER' // not a key, LocalAccount or WalletClient
  | 'CLIENT_NO_ACCOUNT' // a WalletClient with no account and none given
  | 'SIG_MALFORMED' // a wallet answered something that is not a 65-byte signature
