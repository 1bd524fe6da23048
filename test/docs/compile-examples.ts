/**
 * Type-checks the code of TSDoc `@example` blocks, as a user would paste it: each example is a
 * module that sees every export of every entry point (imported by its package name, mapped to
 * the sources) and a few variables examples take as given (`client`, `task`, `roads`, ...).
 * The examples are never written to disk: the compiler reads them from memory.
 */
import { join } from 'node:path';
import ts from 'typescript';

/** One example: where it is documented, its code, and whether it is TSX. */
export interface Example {
  readonly where: string;
  readonly code: string;
  readonly tsx: boolean;
}

/**
 * What examples may use without declaring it: the objects the surrounding prose talks about,
 * and the test libraries' globals the testing kit's examples assume.
 */
const GLOBALS = `
declare const client: import('export-task').ExportClient;
declare const task: import('export-task').ExportTask;
declare const tasks: import('export-task').ExportTask[];
declare const roads: import('export-task').FeatureCollection;
declare const features: import('export-task').Feature[];
declare const store: import('export-task').TaskStore;
declare const backend: import('export-task').ExportBackend;
declare const events: import('export-task').TaskEvent[];
declare const newEvents: import('export-task').TaskEvent[];
declare const history: import('export-task').TaskEvent[];
declare const steps: import('export-task/testing').DeliveryStep[];
declare const s: import('fast-check').Scheduler;
declare const exportId: string;
declare let savedCursor: string | undefined;
declare function refresh(productId: string, exportId: string): Promise<unknown>;
/** The application's own rendering of a task, in the testing kit's examples. */
declare function render(snapshot: import('export-task').ExportTaskSnapshot): string;
declare const fc: typeof import('fast-check').default;
declare const expect: typeof import('vitest').expect;
declare const describe: typeof import('vitest').describe;
declare const it: typeof import('vitest').it;
declare const afterEach: typeof import('vitest').afterEach;
declare const afterAll: typeof import('vitest').afterAll;
/** The application under test, in the testing kit's examples: what it started and shows. */
declare const app: { exportIds(): string[]; progress(): number; view(): string };
declare const readFile: typeof import('node:fs/promises').readFile;
declare const createActor: typeof import('xstate').createActor;
type Actor<T extends import('xstate').AnyActorLogic> = import('xstate').Actor<T>;
/** Stately's inspector, which the inspection example uses and this package does not depend on. */
declare module '@statelyai/inspect' {
  export function createBrowserInspector(): { inspect: import('xstate').Observer<import('xstate').InspectionEvent> };
}
`;

/** Imports of the package and libraries the examples may repeat: the module sees them already. */
const KNOWN_IMPORT = /^import .* from '(export-task[^']*|fast-check|react|vitest|xstate)';\n/gm;

/**
 * Type-checks `examples` against the sources under `root`.
 *
 * @param exportsBySpecifier - Every export name of each entry point, by import specifier.
 * @returns One line per error: where the example is documented, its line, the message.
 */
export function compileExamples(root: string, examples: readonly Example[], exportsBySpecifier: ReadonlyMap<string, readonly string[]>): string[] {
  const preamble = `${[...exportsBySpecifier].map(([specifier, names]) => `import { ${names.join(', ')} } from '${specifier}';`).join('\n')}\nexport {};\n`;
  const preambleLines = preamble.split('\n').length - 1;
  const files = new Map<string, string>();
  const globalsFile = join(root, 'test/docs/__examples__/globals.d.ts');
  files.set(globalsFile, GLOBALS);
  const exampleFiles = examples.map((example, i) => {
    const file = join(root, `test/docs/__examples__/${i}.${example.tsx ? 'tsx' : 'ts'}`);
    files.set(file, preamble + example.code.replace(KNOWN_IMPORT, ''));
    return file;
  });

  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  if (config === undefined) throw new Error('compileExamples(): could not read tsconfig.json');
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: true,
    // The preamble imports values and types alike, as a user's editor would.
    verbatimModuleSyntax: false,
    isolatedModules: false,
    // Node's globals, not the DOM's (whose `history` and `name` would hide mistakes).
    lib: ['lib.es2023.d.ts'],
    baseUrl: root,
    paths: { 'export-task': ['./src/index.ts'], 'export-task/*': ['./src/*/index.ts'] },
  };
  const host = ts.createCompilerHost(options);
  const disk = { fileExists: host.fileExists.bind(host), readFile: host.readFile.bind(host), getSourceFile: host.getSourceFile.bind(host) };
  host.fileExists = (file) => files.has(file) || disk.fileExists(file);
  host.readFile = (file) => files.get(file) ?? disk.readFile(file);
  host.getSourceFile = (file, language, ...rest) => {
    const text = files.get(file);
    return text === undefined ? disk.getSourceFile(file, language, ...rest) : ts.createSourceFile(file, text, language);
  };
  const program = ts.createProgram([globalsFile, ...exampleFiles], options, host);
  // Only the examples' own diagnostics: the sources are checked by tsc, and checking them all
  // again here would take most of the time.
  const diagnostics = [globalsFile, ...exampleFiles].flatMap((file) => {
    const source = program.getSourceFile(file)!;
    return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  });
  return diagnostics.flatMap((diagnostic) => {
    const file = diagnostic.file?.fileName;
    if (file === undefined || !files.has(file)) return [];
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
    const index = exampleFiles.indexOf(file);
    if (index === -1) return [`the examples' globals: ${message}`];
    const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    return [`${examples[index]!.where}, line ${line - preambleLines + 1} of its example: ${message}`];
  });
}
