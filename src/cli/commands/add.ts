/**
 * `export-task add`: add the GeoJSON features of a file (or of standard input) to a product.
 *
 * @packageDocumentation
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ExportClient } from '../../client/create-client.js';
import type { FeatureCollection } from '../../client/feature-collection.js';
import type { Feature } from '../../client/geojson.js';
import { ConflictError, NotFoundError } from '../../client/http-errors.js';
import { checkFeature } from '../../server/embedded/check-feature.js';
import { ProgressView } from '../progress-view.js';
import { parseIntegerFlag } from '../integer-flag.js';
import { CONNECTION_OPTIONS, CommandError, checkId, parseConnection, withClient, type CommandIo, type ConnectionFlags } from './connection.js';

/** How the input is written. */
export type FeatureFormat = 'geojson' | 'ndjson';

/** What `add` is asked to do. */
export interface AddOptions extends ConnectionFlags {
  readonly productId: string;
  /** A file, or `-` for standard input. */
  readonly file: string;
  /** Create the product when the service has none of that id. */
  readonly create: boolean;
  readonly title: string | undefined;
  /** How the input is written; `undefined`: from the file's extension, else from its first line. */
  readonly format: FeatureFormat | undefined;
  /** Features sent per request. */
  readonly batchSize: number;
  readonly json: boolean;
  readonly plain: boolean;
}

/** The command's own input, beside its output: standard input for `-`. */
export interface AddIo extends CommandIo {
  readonly stdin?: NodeJS.ReadableStream | undefined;
}

const DEFAULT_BATCH = 10_000;
/** A batch is sent once this much input went into it, whatever its count: big polygons make big requests. */
const BATCH_BYTES = 8 * 1024 * 1024;
/** Files from this size on show a progress bar while they are checked and added. */
const PROGRESS_FROM_BYTES = 1024 * 1024;
const READ_CHUNK = 256 * 1024;
const NDJSON_EXTENSIONS = new Set(['.ndjson', '.geojsonl', '.geojsons', '.jsonl', '.ldjson']);
const GEOJSON_EXTENSIONS = new Set(['.geojson', '.json']);
const INTERRUPTED = 130;

/** The `add` command, in the shape `src/cli/main.ts` lists its commands in. */
export const addCommand = {
  name: 'add',
  summary: 'Add the GeoJSON features of a file (or of standard input) to a product',
  description: [
    'Reads a GeoJSON FeatureCollection, or newline-delimited GeoJSON (one Feature per line), from FILE or',
    'from standard input ("-"), and adds its features to the product. The input is streamed, so its size is',
    'not bound by memory: it is read once to check every feature (nothing is added when one is wrong: the',
    'message names it), then again to add them, a batch per request. Standard input is first saved to a',
    'temporary file, for the two readings. Files of 1 MiB or more show a progress bar.',
    'The format comes from --format, else the extension (.geojson, .json; .ndjson, .geojsonl, .jsonl), else',
    'the first line (a whole Feature: newline-delimited).',
    'Without --create, the product must exist; with it, a missing product is created (named by --title).',
    'Exit codes: 0 added, 1 when the input or the service refused, 2 for a usage error, 130 when interrupted.',
  ].join('\n'),
  options: {
    ...CONNECTION_OPTIONS,
    create: { type: 'boolean', description: 'Create the product if the service has none of that id' },
    title: { type: 'string', valueName: 'title', description: 'The title of a product --create makes (default: its id)' },
    format: { type: 'string', valueName: 'geojson|ndjson', description: 'How the input is written (default: from the extension, else the first line)' },
    batch: { type: 'string', valueName: 'n', description: `Features per request, 1 to 100000 (default ${DEFAULT_BATCH})` },
    json: { type: 'boolean', description: 'One JSON object with the count instead of the sentence, for scripts' },
    plain: { type: 'boolean', description: 'Plain progress lines, no escapes (default on a pipe or with NO_COLOR)' },
  },
  arguments: [
    { name: 'product', description: 'The product (feature collection) id' },
    { name: 'file', description: 'A .geojson FeatureCollection or an .ndjson file of Features, or - for standard input' },
  ],
  parse(values: Readonly<Record<string, string | boolean | undefined>>, positionals: readonly string[]): AddOptions {
    const [productId = '', file = ''] = positionals;
    const format = values['format'];
    if (format !== undefined && format !== 'geojson' && format !== 'ndjson') {
      throw new TypeError(`expected --format to be geojson or ndjson, got ${JSON.stringify(format)}`);
    }
    const title = values['title'];
    if (title !== undefined && values['create'] !== true) {
      throw new TypeError('--title names a product that --create makes: add --create, or leave --title out');
    }
    return {
      ...parseConnection(values),
      productId: checkId('product', productId),
      file: checkId('file', file),
      create: values['create'] === true,
      title: typeof title === 'string' ? title : undefined,
      format,
      batchSize: parseIntegerFlag('--batch', values['batch'], DEFAULT_BATCH, 1, 100_000),
      json: values['json'] === true,
      plain: values['plain'] === true,
    };
  },
  run: (options: AddOptions, io: AddIo): Promise<number> => withClient('add', options, io, (client) => add(client, options, io)),
} as const;

/** One feature read, and where it was, for messages. */
interface ReadFeature {
  readonly value: unknown;
  /** `line 12` or `features[11]`. */
  readonly where: string;
}

async function add(client: ExportClient, options: AddOptions, io: AddIo): Promise<number> {
  let spooled: string | undefined;
  try {
    let path = options.file;
    if (path === '-') {
      // Saved first: the features are read twice (checked, then added), and a pipe reads once.
      spooled = await mkdtemp(join(tmpdir(), 'export-task-add-'));
      path = join(spooled, 'stdin');
      const stdin = io.stdin ?? process.stdin;
      try {
        await pipeline(stdin, createWriteStream(path), { signal: io.signal });
      } catch (error) {
        // Ctrl-C while the input was still coming: nothing was added.
        if (io.signal.aborted) return interrupted(io);
        throw error;
      }
    }
    const size = await fileSize(path, options.file);
    const format = options.format ?? (await detectFormat(path, options.file));
    const name = options.file === '-' ? 'stdin' : basename(options.file);

    // The product first: a missing one fails before the file is read, and says how to create it.
    const exists = await productExists(client, options.productId);
    if (!exists && !options.create) {
      throw new CommandError(
        `the service has no product ${JSON.stringify(options.productId)}: pass --create to create it ` +
          `("export-task add --create ${options.productId} ${options.file}"), or check the id`,
      );
    }

    const view = !options.json && size >= PROGRESS_FROM_BYTES ? new ProgressView(io.stdout, { mode: ProgressView.modeFor(io.stdout, io.env, options.plain) }) : undefined;
    view?.add('input', name);
    try {
      // Every feature checked before anything is added: a bad one at the end of a big file must
      // not leave the product with half of it.
      let count = 0;
      for await (const { value, where } of readFeatures(path, format, (done) => view?.update('input', { phase: 'pending', progress: size === 0 ? 1 : done / size, message: `checked ${count}` }))) {
        if (io.signal.aborted) return interrupted(io);
        try {
          checkFeature(value, where);
        } catch (error) {
          throw new CommandError(`${options.file}: ${(error as Error).message}; nothing was added`);
        }
        count++;
      }
      if (count === 0) throw new CommandError(`${options.file} holds no feature: nothing to add`);

      let created = false;
      let collection: FeatureCollection;
      if (exists) collection = client.featureCollection(options.productId);
      else {
        collection = await createProduct(client, options.productId, options.title ?? options.productId);
        created = true;
      }

      let added = 0;
      let batch: Feature[] = [];
      let batchStart = 0;
      let read = 0;
      const send = async (): Promise<void> => {
        if (batch.length === 0) return;
        added += await collection.add(batch);
        batch = [];
        batchStart = read;
        view?.update('input', { phase: 'running', progress: size === 0 ? 1 : read / size, message: `added ${added} of ${count}` });
      };
      for await (const { value } of readFeatures(path, format, (done) => (read = done))) {
        batch.push(value as Feature);
        if (batch.length >= options.batchSize || read - batchStart >= BATCH_BYTES) {
          if (io.signal.aborted) return interrupted(io, added);
          await send();
        }
      }
      await send();
      view?.update('input', { phase: 'success', progress: 1, message: `added ${added}` });
      view?.close();
      if (options.json) {
        io.stdout.write(`${JSON.stringify({ productId: options.productId, added, created })}\n`);
      } else {
        io.stdout.write(`Added ${added} features to ${options.productId}${created ? ' (created it)' : ''}.\n`);
        io.stdout.write(`Export them with "export-task export ${options.productId} exports/${options.productId}.ndjson".\n`);
      }
      return 0;
    } finally {
      view?.close();
    }
  } finally {
    if (spooled !== undefined) await rm(spooled, { recursive: true, force: true });
  }
}

function interrupted(io: CommandIo, added?: number): number {
  io.stderr.write(`export-task add: interrupted${added === undefined ? ', nothing was added' : `, after adding ${added} features`}\n`);
  return INTERRUPTED;
}

async function fileSize(path: string, given: string): Promise<number> {
  const stats = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new CommandError(error.code === 'ENOENT' ? `no file ${given}: give a GeoJSON or NDJSON file, or - for standard input` : `cannot read ${given}: ${error.message}`);
  });
  if (!stats.isFile()) throw new CommandError(`${given} is not a file: give a GeoJSON or NDJSON file, or - for standard input`);
  return stats.size;
}

/** Whether the service has the product: its list of exports answers, or 404s for a missing product. */
async function productExists(client: ExportClient, productId: string): Promise<boolean> {
  try {
    await client.backend.listExports(productId);
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}

async function createProduct(client: ExportClient, productId: string, title: string): Promise<FeatureCollection> {
  try {
    return await client.createFeatureCollection(productId, { title });
  } catch (error) {
    // Created by someone else since the check: it exists, which is what was asked for.
    if (error instanceof ConflictError) return client.featureCollection(productId);
    throw error;
  }
}

/** The format from the extension, else from the first line: a whole Feature on it is newline-delimited GeoJSON. */
async function detectFormat(path: string, given: string): Promise<FeatureFormat> {
  const extension = extname(given).toLowerCase();
  if (NDJSON_EXTENSIONS.has(extension)) return 'ndjson';
  if (GEOJSON_EXTENSIONS.has(extension)) return 'geojson';
  let head = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 64 * 1024 })) {
    head += chunk as string;
    if (head.includes('\n') || head.length > 16 * 1024 * 1024) break;
  }
  const firstLine = head.trimStart().split('\n', 1)[0] ?? '';
  try {
    const value = JSON.parse(firstLine) as { type?: unknown };
    return value?.type === 'Feature' ? 'ndjson' : 'geojson';
  } catch {
    return 'geojson';
  }
}

/**
 * The features of the input, one at a time, in order, read in chunks so that memory holds one
 * chunk and the features parsed from it. `onRead` gets the bytes read so far, before the features
 * of each chunk.
 *
 * @throws CommandError for input that is not the format: not JSON, or not a FeatureCollection.
 */
async function* readFeatures(path: string, format: FeatureFormat, onRead: (bytes: number) => void): AsyncGenerator<ReadFeature> {
  const source = createReadStream(path, { highWaterMark: READ_CHUNK });
  try {
    yield* format === 'ndjson' ? ndjsonFeatures(source, path, onRead) : collectionFeatures(source, path, onRead);
  } finally {
    source.destroy();
  }
}

async function* ndjsonFeatures(source: AsyncIterable<Buffer>, path: string, onRead: (bytes: number) => void): AsyncGenerator<ReadFeature> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let rest = '';
  let line = 0;
  let bytes = 0;
  const parse = (text: string): ReadFeature | undefined => {
    line++;
    if (text.trim() === '') return undefined;
    try {
      return { value: JSON.parse(text) as unknown, where: `line ${line}` };
    } catch (error) {
      throw new CommandError(`${basename(path) === 'stdin' ? 'standard input' : path}: line ${line} is not JSON (${(error as Error).message}): expected one GeoJSON Feature per line`);
    }
  };
  for await (const chunk of source) {
    bytes += chunk.length;
    onRead(bytes);
    const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = lines.pop()!;
    for (const text of lines) {
      const feature = parse(text);
      if (feature !== undefined) yield feature;
    }
  }
  const feature = parse(rest + decoder.decode());
  if (feature !== undefined) yield feature;
}

async function* collectionFeatures(source: AsyncIterable<Buffer>, path: string, onRead: (bytes: number) => void): AsyncGenerator<ReadFeature> {
  // Loaded here: only this command reads JSON as a stream.
  const { JSONParser } = await import('@streamparser/json');
  // `$.type` to check it is a FeatureCollection; `$.features.*` one feature at a time, dropped
  // from the parser's memory once emitted (keepStack: false).
  const parser = new JSONParser({ paths: ['$.type', '$.features.*'], keepStack: false });
  let found: ReadFeature[] = [];
  let type: unknown;
  let failure: Error | undefined;
  parser.onValue = ({ value, key, stack }) => {
    if (stack.length === 1 && key === 'type') type = value;
    else found.push({ value, where: `features[${String(key)}]` });
  };
  parser.onError = (error) => (failure ??= error);
  const where = basename(path) === 'stdin' ? 'standard input' : path;
  const fail = (error: Error): never => {
    throw new CommandError(`${where} is not valid JSON (${error.message}): expected a GeoJSON FeatureCollection, or one Feature per line with --format ndjson`);
  };
  let bytes = 0;
  for await (const chunk of source) {
    bytes += chunk.length;
    onRead(bytes);
    parser.write(chunk);
    if (failure !== undefined) fail(failure);
    const ready = found;
    found = [];
    yield* ready;
  }
  if (!parser.isEnded) parser.end();
  if (failure !== undefined) fail(failure);
  yield* found;
  if (type !== 'FeatureCollection') {
    throw new CommandError(`${where}: expected a GeoJSON FeatureCollection (an object with "type": "FeatureCollection" and "features"), got ${type === undefined ? 'no "type"' : `"type": ${JSON.stringify(type)}`}`);
  }
}
