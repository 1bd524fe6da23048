/**
 * What a browser app loads when it imports `export-task`: the static, run-time import graph.
 * Type-only imports (erased by TypeScript) and dynamic `import()`s (loaded on first use, in Node
 * only) are left out, so these rules see exactly the modules that load with the entry point.
 * The rules on every import are in `.dependency-cruiser.cjs`.
 *
 * Run: `npm run lint:arch`.
 */
const { builtinModules } = require('node:module');

const escapeRegExp = (name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

const NODE_BUILTIN = `^(?:node:.+|${builtinModules.map(escapeRegExp).join('|')})$`;
/** Node-only modules of this package: the embedded service's engine and the client's file access. */
const NODE_ONLY = ['^src/server/embedded/engine\\.ts$', '^src/client/node/'];
/** What must run in browsers: the client (but its Node-only entry points), the core and the statechart. */
const BROWSER_CODE = { path: ['^src/index\\.ts$', '^src/client/', '^src/core/', '^machines/'], pathNot: '^src/client/node/' };

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'entry-browser-safe',
      severity: 'error',
      comment:
        'src/index.ts must not statically reach a Node built-in or a Node-only module: the embedded service and ' +
        'path downloads come with the Node entry (src/index.node.ts) only.',
      from: { path: '^src/index\\.ts$' },
      to: { path: [NODE_BUILTIN, ...NODE_ONLY], reachable: true },
    },
    {
      name: 'browser-safe',
      severity: 'error',
      comment:
        'The client (but src/client/node/**), the core and machines/ statically reach no Node built-in and no ' +
        'Node-only module, whatever the path (src/internal/ and src/server/ included).',
      from: BROWSER_CODE,
      to: { path: [NODE_BUILTIN, ...NODE_ONLY], reachable: true },
    },
    {
      name: 'browser-runtime-dependencies',
      severity: 'error',
      comment:
        'What a browser app loads runs with xstate, rxjs and immer alone (SPEC section 1); SQLite, an HTTP ' +
        'framework and the like are optional peers, loaded by their subpath only.',
      from: BROWSER_CODE,
      to: { path: 'node_modules/', pathNot: 'node_modules/(?:xstate|rxjs|immer)/', reachable: true },
    },
    {
      name: 'react-browser-safe',
      severity: 'error',
      comment:
        'export-task/react runs in browsers: src/react/ statically reaches no Node built-in, no Node-only module, ' +
        'and no package but react and what the client runs with (xstate, rxjs, immer).',
      from: { path: '^src/react/' },
      to: {
        path: [NODE_BUILTIN, ...NODE_ONLY, 'node_modules/'],
        pathNot: 'node_modules/(?:react|xstate|rxjs|immer)/',
        reachable: true,
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules/' },
    tsPreCompilationDeps: false,
    exclude: { dynamic: true },
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
