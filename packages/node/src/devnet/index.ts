export {
  type DevnetInitFile,
  type DevnetInitOptions,
  type DevnetUpOptions,
  devnetDown,
  devnetInit,
  devnetKill,
  devnetRestart,
  devnetStatus,
  devnetUp,
  type NodeStatus,
  type ProvisionedNetwork,
  provisionNetwork,
} from './devnet.js'
export { type DevnetFile, type DevnetNode, paths as devnetPaths, readDevnet } from './layout.js'
export { type DevnetLogsOptions, devnetLogs, lastLines } from './logs.js'
export {
  freePorts,
  isAlive,
  killProcess,
  spawnBackground,
  waitFor,
} from './processes.js'
