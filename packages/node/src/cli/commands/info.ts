import type { NodeInfo } from '@allot/protocol'
import type { Command } from 'commander'
import type { RegisterCommands } from './index.js'
import { withClient } from './orders.js'

/** A node that has certified a batch within this many heights of the one it works on is in sync. */
const IN_SYNC_HEIGHTS = 3n

export function infoJson(i: NodeInfo): Record<string, unknown> {
  return {
    networkId: i.networkId,
    chainId: i.chainId.toString(),
    settlement: i.settlement,
    rpcUrl: i.rpcUrl,
    version: i.version,
    peerId: i.peerId,
    peers: i.peers,
    sealing: i.sealing,
    batchIntervalMs: i.batchIntervalMs,
    intakeCutoffMs: i.intakeCutoffMs,
    submitMarginMs: i.submitMarginMs,
    openBatch: i.openBatch.toString(),
    openBatchClosesInMs: i.openBatchClosesInMs,
    height: i.height.toString(),
    finalized: i.finalized.toString(),
    settled: i.settled.toString(),
    inSync: i.finalized + IN_SYNC_HEIGHTS >= i.height,
    mempoolSize: i.mempoolSize,
    assets: i.assets.map((a) => ({
      symbol: a.symbol,
      kind: a.kind,
      id: a.assetId,
      decimals: a.decimals,
      ...(a.kind === 'token' ? { address: a.ref } : { class: a.ref }),
    })),
    validators: i.validators,
    listenAddrs: i.listenAddrs,
  }
}

function human(i: NodeInfo): string {
  const j = infoJson(i)
  return [
    `network     ${i.networkId}  (chain ${i.chainId}, settlement ${i.settlement}${i.rpcUrl ? `, rpc ${i.rpcUrl}` : ''})`,
    `node        ${i.peerId}  version ${i.version}, ${i.peers} peers, ${i.mempoolSize} orders waiting, sealing ${i.sealing ? 'on' : 'off'}`,
    `batches     every ${i.batchIntervalMs} ms; open batch ${i.openBatch} closes for orders in ${i.openBatchClosesInMs} ms`,
    `            (intake closes ${i.intakeCutoffMs} ms before a proposal; an order aims at a batch with at least ${i.submitMarginMs} ms left)`,
    `sync        works on ${i.height}, finalized ${i.finalized}, settled on chain ${i.settled}: ${j.inSync ? 'in sync' : 'catching up'}`,
    'assets',
    ...i.assets.map(
      (a) =>
        `  ${a.symbol.padEnd(6)} ${a.kind.padEnd(8)} ${String(a.decimals).padStart(2)} decimals  ${a.ref}`,
    ),
    `validators  ${i.validators.length}`,
    ...i.validators.map((v) => `  ${v.address}  ${v.peerId}`),
  ].join('\n')
}

export const registerInfoCommands: RegisterCommands = (program: Command) => {
  program
    .command('info')
    .description(
      'the network and node: open batch and when it closes, interval, assets with decimals, validators, sync state',
    )
    .requiredOption('--node <api-multiaddr>', "the node's API multiaddr")
    .option('--json', 'print JSON')
    .action(async (o: { node: string; json?: boolean }) => {
      const i = await withClient(o.node, (c) => c.info())
      process.stdout.write(`${o.json ? JSON.stringify(infoJson(i)) : human(i)}\n`)
    })
}
