/**
 * The one error type every allot package throws for expected failures.
 * `code` is stable (scripts, the API and logs rely on it); `message` is for humans.
 * Codes are prefixed by concern: ORDER_, WIRE_, BATCH_, CONSENSUS_, SEAL_, SETTLE_, API_, KEY_, SOLVER_...
 */
export class AllotError<C extends string = string> extends Error {
  readonly code: C
  readonly details?: Record<string, unknown>

  constructor(code: C, message: string, details?: Record<string, unknown>) {
    super(`${code}: ${message}`)
    this.name = 'AllotError'
    this.code = code
    if (details !== undefined) this.details = details
  }
}

export function isAllotError(e: unknown, code?: string): e is AllotError {
  return e instanceof AllotError && (code === undefined || e.code === code)
}

/** Codes shared across packages (API answers, CLI messages). Packages may add their own. */
export const ErrorCode = {
  // wire
  WIRE_MALFORMED: 'WIRE_MALFORMED',
  WIRE_TOO_LARGE: 'WIRE_TOO_LARGE',
  WIRE_TRAILING_BYTES: 'WIRE_TRAILING_BYTES',
  // orders
  ORDER_BAD_SIGNATURE: 'ORDER_BAD_SIGNATURE',
  ORDER_BAD_AMOUNT: 'ORDER_BAD_AMOUNT',
  ORDER_BAD_ASSET: 'ORDER_BAD_ASSET',
  ORDER_UNKNOWN_ASSET: 'ORDER_UNKNOWN_ASSET',
  ORDER_BAD_BATCH: 'ORDER_BAD_BATCH',
  ORDER_TARGET_CLOSED: 'ORDER_TARGET_CLOSED',
  ORDER_DUPLICATE: 'ORDER_DUPLICATE',
  ORDER_WRONG_NETWORK: 'ORDER_WRONG_NETWORK',
  ORDER_INSUFFICIENT_BOND: 'ORDER_INSUFFICIENT_BOND',
  ORDER_INSUFFICIENT_BALANCE: 'ORDER_INSUFFICIENT_BALANCE',
  ORDER_RATE_LIMITED: 'ORDER_RATE_LIMITED',
  ORDER_NOT_FOUND: 'ORDER_NOT_FOUND',
  ORDER_PLAIN_REFUSED: 'ORDER_PLAIN_REFUSED',
  ORDER_EXPIRED: 'ORDER_EXPIRED',
  ORDER_MISSED_BATCH: 'ORDER_MISSED_BATCH',
  ORDER_CANCELLED: 'ORDER_CANCELLED',
  ORDER_MEMPOOL_FULL: 'ORDER_MEMPOOL_FULL',
  // batches
  BATCH_NOT_FOUND: 'BATCH_NOT_FOUND',
  // keys
  KEY_BAD_KEYSTORE: 'KEY_BAD_KEYSTORE',
  KEY_BAD_PASSWORD: 'KEY_BAD_PASSWORD',
  KEY_BAD_HEX: 'KEY_BAD_HEX',
  // api
  API_BAD_REQUEST: 'API_BAD_REQUEST',
  API_TIMEOUT: 'API_TIMEOUT',
  API_INTERNAL: 'API_INTERNAL',
  API_UNAVAILABLE: 'API_UNAVAILABLE',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]
