import { existsSync } from 'node:fs';
import { dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What {@link cleanStacktrace} replaces. @internal */
export interface StacktraceOptions {
  /** The service's data directory: written `<data-dir>` in the trace. */
  readonly dataDir?: string | undefined;
  /** Keep every path as it is (the service's `fullStacktraces` option, for debugging). */
  readonly fullPaths?: boolean | undefined;
}

/** The package's root directory (the one holding its package.json), from this module's place in `src/` or `dist/`. */
const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(`${dir}${sep}package.json`)) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** An absolute path or file URL, where a stack frame or a message would hold one. */
const ABSOLUTE_PATH = /(?<=^|[\s('"`[])(?:file:\/\/)?\/(?:[^\s()'"`/:[\]]+\/)+/g;
/** A path into an installed package keeps the package's name onwards. */
const NODE_MODULES = /(?<=^|[\s('"`[])(?:file:\/\/)?\/(?:[^\s()'"`:[\]]+\/)?node_modules\//g;

/**
 * A failed export's stack trace as clients may see it: frames of this package name their file
 * from the package (`export-task/dist/export-job.worker.js:120:11`), those of another installed
 * package from its name (`fastify/lib/route.js:9:3`), the data directory is `<data-dir>`, and
 * any other absolute path keeps only its file name. A client learns what failed where, not
 * where the service is installed.
 *
 * @example
 * ```ts
 * cleanStacktrace('Error: x\n    at run (file:///srv/app/node_modules/export-task/dist/chunk-1.js:4:2)');
 * // 'Error: x\n    at run (export-task/dist/chunk-1.js:4:2)'
 * ```
 * @param stacktrace - The trace, or `null`.
 * @param options - The data directory, and whether to keep the paths.
 * @returns The cleaned trace (`null` for `null`).
 * @internal
 */
export function cleanStacktrace(stacktrace: string | null, options: StacktraceOptions = {}): string | null {
  if (stacktrace === null || options.fullPaths === true) return stacktrace;
  let text = stacktrace;
  const roots: [string, string][] = [];
  if (options.dataDir !== undefined) roots.push([options.dataDir, '<data-dir>']);
  if (PACKAGE_ROOT !== undefined) roots.push([PACKAGE_ROOT, 'export-task']);
  // The longer first: the data directory may lie inside the package's (tests, a local run).
  roots.sort(([a], [b]) => b.length - a.length);
  for (const [root, name] of roots) {
    const prefix = new RegExp(`(?:file://)?${escapeRegExp(root)}(?=[/\\\\])`, 'g');
    text = text.replace(prefix, name);
  }
  return text.replace(NODE_MODULES, '').replace(ABSOLUTE_PATH, '');
}
