export {
  type DevnetUpOptions,
  devnetDown,
  devnetKill,
  devnetRestart,
  devnetStatus,
  devnetUp,
  type NodeStatus,
} from './devnet.js'
export { type DevnetFile, type DevnetNode, paths as devnetPaths, readDevnet } from './layout.js'
export {
  freePorts,
  isAlive,
  killProcess,
  spawnBackground,
  waitFor,
} from './processes.js'
