// @ts-check
/**
 * TypeDoc's configuration for `npm run docs` (HTML into docs/api/) and for the test that checks
 * every export of every entry point is documented (test/docs/api-docs.test.ts).
 *
 * The entry points are the package's subpaths: each key of package.json `exports` but
 * `./package.json`, "." as src/index.ts and "./name" as src/name/index.ts, so a new subpath
 * is documented (and checked) as soon as it is exported.
 */
import { existsSync, readFileSync } from 'node:fs';
import { URL } from 'node:url';

const root = new URL('./', import.meta.url);
/** @type {{ exports: Record<string, unknown> }} */
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));

/** The source of each subpath, keyed by its import specifier (`export-task`, `export-task/server`, ...). */
export const entryPointsBySubpath = Object.fromEntries(
  Object.keys(pkg.exports)
    .filter((subpath) => !subpath.endsWith('.json'))
    .map((subpath) => {
      const source = subpath === '.' ? 'src/index.ts' : `src/${subpath.slice(2)}/index.ts`;
      if (!existsSync(new URL(source, root))) {
        throw new Error(`typedoc.config.js: package.json exports "${subpath}", expected its source at ${source}: create it or fix the mapping here`);
      }
      return [subpath === '.' ? 'export-task' : `export-task/${subpath.slice(2)}`, source];
    }),
);

/** @type {Partial<import('typedoc').TypeDocOptions>} */
const config = {
  name: 'export-task',
  entryPoints: Object.values(entryPointsBySubpath),
  out: 'docs/api',
  tsconfig: 'tsconfig.json',
  // The landing page is the users' one (install, a first export, the guides); the README
  // opens with what contributors run.
  readme: 'docs/index.md',
  projectDocuments: ['docs/guide-*.md', 'docs/server.md', 'docs/http-protocol.md'],
  excludeInternal: true,
  // The repository has no public remote to link sources to.
  disableSources: true,
  // `tsc --noEmit` checks the types; TypeDoc need not do it again.
  skipErrorChecking: true,
  excludePrivate: true,
  sort: ['source-order'],
  // Fail, not warn: an undocumented export, a broken {@link} or a type that is used but not
  // exported is a mistake in the API docs.
  treatWarningsAsErrors: true,
  validation: { notExported: true, invalidLink: true, invalidPath: true, rewrittenLink: true, notDocumented: true, unusedMergeModuleWith: true },
  // Declarations, not 'Property': TypeDoc would also ask for the properties of every type it
  // infers (an XState machine's config has hundreds). test/docs/api-docs.test.ts checks the
  // members of our classes and interfaces, and an @example on every export.
  requiredToBeDocumented: ['Module', 'Namespace', 'Enum', 'EnumMember', 'Variable', 'Function', 'Class', 'Interface', 'Constructor', 'Method', 'Accessor', 'TypeAlias'],
};

export default config;
