/** The node's and the CLI's version (packages/node/package.json's; a unit test keeps them equal). */
export const NODE_VERSION = '0.1.0'
