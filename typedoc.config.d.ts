/** The types of typedoc.config.js, for the test that runs TypeDoc with it. */
import type { TypeDocOptions } from 'typedoc';

/** The source of each subpath, keyed by its import specifier (`export-task`, `export-task/server`, ...). */
export declare const entryPointsBySubpath: Readonly<Record<string, string>>;

declare const config: Partial<TypeDocOptions>;
export default config;
