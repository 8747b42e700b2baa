/**
 * JSON Schemas (OpenAPI 3.1 / JSON Schema 2020-12) of what the gateway answers. Amounts, prices and
 * heights are decimal strings (STYLE.md "Data": bigints in JSON); ids and addresses 0x-hex. The OpenAPI
 * document refers to these as `#/components/schemas/<name>`, and a test validates live answers against them.
 */
type Schema = Record<string, unknown>

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` })
const uint: Schema = { type: 'string', pattern: '^[0-9]+$' }
const hex32: Schema = { type: 'string', pattern: '^0x[0-9a-fA-F]{64}$' }
const address: Schema = { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' }
const hexBytes: Schema = { type: 'string', pattern: '^0x([0-9a-fA-F]{2})*$' }
const nullable = (s: Schema): Schema => ({ oneOf: [s, { type: 'null' }] })
const obj = (properties: Record<string, Schema>, optional: string[] = []): Schema => ({
  type: 'object',
  properties,
  required: Object.keys(properties).filter((k) => !optional.includes(k)),
})

const batchViewProps = {
  height: uint,
  orderCount: { type: 'integer', minimum: 0 },
  prices: { type: 'array', items: obj({ asset: hex32, price: uint }) },
  fills: {
    type: 'array',
    items: obj({
      orderId: hex32,
      trader: address,
      sellAsset: hex32,
      buyAsset: hex32,
      sold: uint,
      bought: uint,
    }),
  },
  resultHash: nullable(hex32),
  signers: { type: 'array', items: address },
  settlement: nullable(obj({ txHash: hex32, status: { type: 'string' } })),
}

export const SCHEMAS: Record<string, Schema> = {
  Error: obj({ code: { type: 'string' }, message: { type: 'string' } }),
  Health: obj({ ok: { const: true } }),
  Status: obj({
    height: uint,
    finalized: uint,
    settled: uint,
    peers: { type: 'integer', minimum: 0 },
    validator: nullable(address),
    inResultQuorum: { type: 'boolean' },
  }),
  NodeInfo: obj({
    peerId: { type: 'string' },
    peers: { type: 'integer', minimum: 0 },
    height: uint,
    finalized: uint,
    settled: uint,
    openBatch: uint,
    version: { type: 'string' },
    networkId: { type: 'string' },
    chainId: uint,
    settlement: address,
    rpcUrl: nullable({ type: 'string' }),
    assets: {
      type: 'array',
      items: obj({
        symbol: { type: 'string' },
        kind: { enum: ['token', 'resource'] },
        ref: { type: 'string' },
        assetId: hex32,
        decimals: { type: 'integer', minimum: 0 },
      }),
    },
    listenAddrs: { type: 'array', items: { type: 'string' } },
    mempoolSize: { type: 'integer', minimum: 0 },
    sealing: { type: 'boolean' },
    batchIntervalMs: { type: 'integer', minimum: 0 },
    intakeCutoffMs: { type: 'integer', minimum: 0 },
    submitMarginMs: { type: 'integer', minimum: 0 },
    openBatchClosesInMs: { type: 'integer', minimum: 0 },
    validators: { type: 'array', items: obj({ address, peerId: { type: 'string' } }) },
  }),
  SubmitRequest: obj({ envelope: hexBytes }),
  SubmitManyRequest: obj({ envelopes: { type: 'array', items: hexBytes } }),
  CancelRequest: obj({
    trader: address,
    signature: obj({ r: hex32, s: hex32, v: { type: 'integer', minimum: 0, maximum: 255 } }),
  }),
  Submitted: obj({ orderId: hex32, targetBatch: uint }),
  SubmittedMany: {
    type: 'object',
    properties: {
      results: {
        type: 'array',
        items: {
          oneOf: [
            obj({ kind: { const: 'submitted' }, orderId: hex32, targetBatch: uint }),
            obj({ kind: { const: 'error' }, code: { type: 'string' }, message: { type: 'string' } }),
          ],
        },
      },
    },
    required: ['results'],
  },
  Cancelled: obj({ orderId: hex32 }),
  OrderStatus: obj({
    orderId: hex32,
    status: {
      enum: [
        'pending',
        'included',
        'filled',
        'partially_filled',
        'unfilled',
        'resting',
        'expired',
        'cancelled',
        'rejected',
      ],
    },
    batch: nullable(uint),
    filled: nullable(obj({ sold: uint, bought: uint })),
    txHash: nullable(hex32),
    error: nullable(obj({ code: { type: 'string' }, message: { type: 'string' } })),
  }),
  OrderLife: obj({
    orderId: hex32,
    status: ref('OrderStatus'),
    steps: {
      type: 'array',
      items: obj(
        {
          step: { enum: ['submitted', 'sealed', 'in batch', 'unsealed', 'filled', 'settled'] },
          done: { type: 'boolean' },
          height: nullable(uint),
          detail: nullable({ type: 'string' }),
        },
        [],
      ),
    },
  }),
  BatchView: obj(batchViewProps),
  ExplorerBatch: obj({ ...batchViewProps, objective: nullable(uint) }),
  BatchList: obj({ batches: { type: 'array', items: ref('ExplorerBatch') } }),
  BatchBook: obj({
    height: uint,
    objective: uint,
    numeraire: hex32,
    orders: {
      type: 'array',
      items: obj({
        orderId: hex32,
        trader: address,
        sellAsset: hex32,
        buyAsset: hex32,
        sellAmount: uint,
        buyAmount: uint,
        kind: { enum: ['sell', 'buy'] },
        partial: { type: 'boolean' },
        resting: { type: 'boolean' },
      }),
    },
  }),
  BatchKey: obj({ height: uint, publicKey: hexBytes }),
  Balances: obj({
    address,
    balances: {
      type: 'array',
      items: obj({ asset: hex32, escrow: uint, available: uint, pendingWithdrawal: uint }),
    },
  }),
  Validators: obj({
    validators: {
      type: 'array',
      items: obj({
        address,
        peerId: { type: 'string' },
        self: { type: 'boolean' },
        up: { type: 'boolean' },
        /** This node: the height it works on; another validator: the last height whose result attestation reached this node (null: none seen, or this node is no validator). */
        height: nullable(uint),
        lastSigned: nullable(uint),
        inQuorum: { type: 'boolean' },
      }),
    },
  }),
}

export { ref }
