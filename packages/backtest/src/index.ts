export {
  type CdaFill,
  type CdaParams,
  type CdaResult,
  type CdaTrade,
  maxSoldWithFee,
  pairOf,
  runContinuousAuction,
} from './cda.js'
export {
  clearWindow,
  evaluateWindow,
  type MechanismConfig,
  valuationOfPrices,
  valuationOfReference,
  type Window,
  type WindowClearing,
  type WindowResult,
  windowsOf,
} from './evaluate.js'
export { historyOfBatchFiles } from './gpv1.js'
export {
  type History,
  type HistoryBatch,
  type HistoryHeader,
  type HistoryOrder,
  historyBatchLine,
  historyHeaderLine,
  parseHistory,
  type RecordedResult,
  serializeHistory,
} from './history.js'
export {
  type Arbitrage,
  arbitrageLeft,
  measureOutcome,
  type OutcomeMetrics,
  type TraderOutcomes,
} from './metrics.js'
export { type ConfigRun, type ReplayOptions, runBacktest, summarise, type Totals } from './replay.js'
export { type ReportInput, reportHtml, reportJson } from './report.js'
export {
  addressOf,
  DEFAULT_SIMULATION,
  freeCapacity,
  informedOrder,
  makerQuotes,
  normals,
  parsePriceCsv,
  populationOf,
  prng,
  referencePaths,
  type SimulationParams,
  simulate,
} from './simulate.js'
