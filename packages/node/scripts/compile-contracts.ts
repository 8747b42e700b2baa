/** Build step: compiles packages/node/contracts/*.sol with the npm `solc` into packages/node/artifacts/*.json. */
import '@allot/protocol/polyfill'
import { compileContracts } from '../src/settlement/artifacts.js'

compileContracts((line) => console.log(line))
