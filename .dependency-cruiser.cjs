/**
 * The folders are the architecture (STYLE.md): these rules make `npm test` fail when an import
 * breaks it. This file checks every import, type-only and dynamic ones included; the rules that
 * are about what a browser loads follow static imports only and live in
 * `.dependency-cruiser.static.cjs`.
 *
 * Run: `npm run lint:arch`.
 */
const { builtinModules } = require('node:module');

const escapeRegExp = (name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A Node built-in, with or without the `node:` prefix. */
const NODE_BUILTIN = `^(?:node:.+|${builtinModules.map(escapeRegExp).join('|')})$`;
/** The statechart and the core: pure, no I/O, runs anywhere. */
const CORE = '^(?:machines|src/core)/';
/** Modules that talk to the outside world (network, files, processes) or to test tools. */
const IO = '^src/(?:client|server|sources|cli|testing|react|bullmq)/';
/** The client's Node-only entry points (files), loaded only with `await import()`. */
const CLIENT_NODE = '^src/client/node/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No import cycles. A cycle made only of run-time edges decides module load order by accident; ' +
        'one that closes through a type-only import (erased by TypeScript) does not, and is allowed.',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'core-no-node-builtin',
      severity: 'error',
      comment: 'machines/ and src/core/ run in browsers: no Node built-in, not even a type or a dynamic import.',
      from: { path: CORE },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'core-no-io',
      severity: 'error',
      comment: 'The core imports no I/O module: adapters (client, server, sources, cli) import the core, never the other way.',
      from: { path: CORE },
      to: { path: IO },
    },
    {
      name: 'core-runtime-dependencies',
      severity: 'error',
      comment: 'The core runs with xstate, rxjs and immer alone (SPEC section 1).',
      from: { path: CORE },
      to: {
        dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown', 'unknown'],
        pathNot: 'node_modules/(?:xstate|rxjs|immer)/',
      },
    },
    {
      name: 'client-node-only-from-the-node-entry',
      severity: 'error',
      comment:
        'The client runs in browsers; what only Node has is in src/client/node/**, given to the client by the Node entry ' +
        '(src/index.node.ts). Not even a dynamic import of it from the client: bundlers follow those into browser builds.',
      from: { path: '^src/client/', pathNot: CLIENT_NODE },
      to: { path: CLIENT_NODE, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'client-no-server',
      severity: 'error',
      comment:
        'The client does not depend on the service, not even by a type or a dynamic import: the embedded service is ' +
        'given to it by the Node entry (src/index.node.ts), and its options type lives in src/client/embedded-options.ts.',
      from: { path: '^src/client/' },
      to: { path: '^src/server/' },
    },
    {
      name: 'main-entry-no-service',
      severity: 'error',
      comment:
        'The main entry (src/index.ts) is the core and the HTTP client: whatever the import (dynamic ones included), ' +
        'it reaches nothing of the service and no Node-only module, so no bundler puts them in a browser build.',
      from: { path: '^src/index\\.ts$' },
      to: { path: ['^src/server/', '^src/embedded/', CLIENT_NODE, NODE_BUILTIN], reachable: true },
    },
    {
      name: 'client-no-node-builtin',
      severity: 'error',
      comment: 'The client imports Node built-ins only through its Node-only entry points (src/client/node/**).',
      from: { path: '^src/client/', pathNot: CLIENT_NODE },
      to: { path: NODE_BUILTIN, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'react-only-in-src-react',
      severity: 'error',
      comment:
        'React is an optional peer of export-task/react alone: nothing outside src/react/ imports it (not even a type), ' +
        'so the core, the client and the service run and type-check without it.',
      from: { pathNot: '^src/react/' },
      to: { path: ['^react(?:-dom)?$', 'node_modules/(?:@types/)?react(?:-dom)?/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules/' },
    // Type-only imports are dependencies too (a core that imports a client type is coupled to it).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
