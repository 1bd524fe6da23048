/**
 * The worker-thread entry that runs one export job: it reads the product's features, keeps
 * those the query matches and writes them to a temporary file, reporting progress, log lines,
 * CPU time and memory to the main thread. The main thread opened both files and closes them
 * once this thread has exited, and decides what becomes of the output (it renames it onto the
 * target, or removes it), so a job killed at any point leaves no trace and no descriptor.
 *
 * Reads and writes are synchronous, on this thread: a terminated worker stops between two
 * system calls, never with a write still queued on the shared thread pool that could land in
 * whatever file reuses the descriptor after the main thread closed it. Only the query compiler
 * and Node builtins are imported: the worker starts fast and its memory limit is spent on the
 * job, not on modules.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { fsyncSync, readFileSync, readSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import type { Feature } from '../../client/geojson.js';
import { compileQuery } from '../../internal/query.js';
import type { ExportJobMessage, ExportWorkerData, JobUsage } from './export-job-protocol.js';

/** Bytes read from the product's file at a time. */
const READ_CHUNK = 256 * 1024;
/** Output buffered before a write, in characters. */
const WRITE_CHUNK = 1024 * 1024;
/** Progress is posted at most this often, unless it advanced by {@link PROGRESS_STEP}. */
const PROGRESS_INTERVAL_MS = 100;
const PROGRESS_STEP = 0.05;
/** Linux's USER_HZ: the unit of the CPU times in /proc/thread-self/stat. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds this thread has used: user + system time of the thread, not of the process. */
function threadCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing ")" do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (Number.isFinite(utime) && Number.isFinite(stime)) return (utime + stime) / CLOCK_TICKS_PER_SECOND;
  } catch {
    // No /proc (macOS, Windows): fall back below.
  }
  // Time the event loop spent busy: wall time, not CPU time, but the closest portable measure.
  return performance.eventLoopUtilization().active / 1000;
}

class UsageMeter {
  readonly #cpuAtStart = threadCpuSeconds();
  readonly #startedAt = performance.now();
  #peakMemory = 0;

  /** Wall time since the job started, ms. */
  elapsedMs(): number {
    return performance.now() - this.#startedAt;
  }

  sample(): JobUsage {
    const heap = getHeapStatistics();
    this.#peakMemory = Math.max(this.#peakMemory, heap.used_heap_size + heap.external_memory);
    const runtime = Math.max(0, threadCpuSeconds() - this.#cpuAtStart);
    return { runtime: Math.round(runtime * 1000) / 1000, peakMemory: this.#peakMemory };
  }
}

function post(message: ExportJobMessage): void {
  parentPort?.postMessage(message);
}

/** Writes all of `data` at the descriptor's position, looping over short writes. */
function writeAll(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
}

/** The first `total` bytes of the file, a chunk at a time, read by position. */
function* chunksOf(fd: number, total: number): Generator<Buffer> {
  let position = 0;
  while (position < total) {
    const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, total - position));
    const bytesRead = readSync(fd, buffer, 0, buffer.length, position);
    if (bytesRead === 0) throw new ServiceFault(`The product's features file ends at byte ${position}, before its committed length ${total}`);
    position += bytesRead;
    yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
  }
}

/** The service's data is not what it should be: its fault, not the job's. */
class ServiceFault extends Error {
  override readonly name = 'ServiceFault';
}

/** Whether the service failed rather than the job: a system call's error (a file gone, a full disk), or its data. */
function isSystemError(error: unknown): boolean {
  return error instanceof ServiceFault || (error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string');
}

function runExportJob(input: ExportWorkerData, usage: UsageMeter): void {
  const { matches, limit, selectsAll } = compileQuery(input.query);
  const output = input.outputFd;
  const hash = createHash('sha256');
  let sizeBytes = 0;
  let pending = '';
  const flush = (): void => {
    if (pending === '') return;
    const bytes = Buffer.from(pending, 'utf8');
    pending = '';
    hash.update(bytes);
    sizeBytes += bytes.length;
    writeAll(output, bytes);
  };

  let scanned = 0;
  let matched = 0;
  let bytesRead = 0;
  let lastFraction = 0;
  let lastPostAt = performance.now();
  const total = input.featuresBytes;
  const progress = (fraction: number): void => {
    lastFraction = fraction;
    lastPostAt = performance.now();
    post({ type: 'progress', fraction, message: `scanned ${scanned} features, matched ${matched}`, ...usage.sample() });
  };

  // A line is kept as the string pieces it arrived in until its newline comes: a huge line
  // grows the heap a chunk at a time, so a memory limit stops the job cleanly.
  let pieces: string[] = [];
  const takeLine = (line: string): boolean => {
    if (line === '') return true;
    scanned++;
    // Stored lines were validated when added: a query that keeps everything copies them as they are.
    if (selectsAll || matches(JSON.parse(line) as Feature)) {
      matched++;
      pending += `${line}\n`;
    }
    return limit === null || matched < limit;
  };

  if (total > 0) {
    const decoder = new StringDecoder('utf8');
    let more = true;
    for (const chunk of chunksOf(input.featuresFd, total)) {
      bytesRead += chunk.length;
      const text = decoder.write(chunk);
      let start = 0;
      for (let newline = text.indexOf('\n'); newline !== -1 && more; newline = text.indexOf('\n', start)) {
        let line = text.slice(start, newline);
        if (pieces.length > 0) {
          pieces.push(line);
          line = pieces.join('');
          pieces = [];
        }
        start = newline + 1;
        more = takeLine(line);
      }
      if (!more) break;
      if (start < text.length) pieces.push(text.slice(start));
      if (pending.length >= WRITE_CHUNK) flush();
      const fraction = bytesRead / total;
      if (performance.now() - lastPostAt >= PROGRESS_INTERVAL_MS || fraction - lastFraction >= PROGRESS_STEP) progress(fraction);
    }
    // A complete file ends with a newline.
    if (more && pieces.length > 0) takeLine(pieces.join(''));
  }
  flush();
  progress(1);
  const limited = limit !== null && matched >= limit ? ` (query_limit ${limit} reached)` : '';
  post({ type: 'log', line: `scanned ${scanned} features, matched ${matched}${limited}` });
  fsyncSync(output);
  post({ type: 'written', sizeBytes, sha256: hash.digest('hex'), elapsedMs: usage.elapsedMs(), ...usage.sample() });
}

function main(): void {
  const usage = new UsageMeter();
  post({ type: 'started', ...usage.sample() });
  try {
    runExportJob(workerData as ExportWorkerData, usage);
  } catch (error) {
    const failure =
      error instanceof Error
        ? { name: error.name, message: error.message, stack: error.stack ?? `${error.name}: ${error.message}` }
        : { name: 'Error', message: String(error), stack: String(error) };
    post({ type: 'threw', ...failure, internal: isSystemError(error), ...usage.sample() });
  }
}

// Only as a worker: importing this module elsewhere (a type check, a bundler's analysis) runs nothing.
if (parentPort !== null) main();
