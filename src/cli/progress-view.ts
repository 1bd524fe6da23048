/**
 * Where a {@link ProgressView} writes: `process.stdout`, or anything with a `write(string)`
 * (a test's sink). `isTTY` and `columns` are read as a terminal stream has them.
 */
export interface ProgressSink {
  write(chunk: string): unknown;
  readonly isTTY?: boolean | undefined;
  readonly columns?: number | undefined;
}

/** What a task line shows. */
export interface ProgressState {
  /** The task's phase (`pending`, `running`, `success`, `failure`), shown as is. */
  readonly phase: string;
  /** From 0 to 1. */
  readonly progress: number;
  /** Shown after the phase, if any. */
  readonly message?: string | null | undefined;
}

/**
 * `live`: one line per task, redrawn in place with cursor movements (a terminal).
 * `plain`: lines appended as things happen, no escapes (a pipe, a log file, `NO_COLOR`).
 */
export type ProgressMode = 'live' | 'plain';

/** Options of {@link ProgressView}. */
export interface ProgressViewOptions {
  /**
   * How to show progress.
   * @defaultValue what {@link ProgressView.modeFor} picks for the sink and `process.env`
   */
  readonly mode?: ProgressMode | undefined;
  /**
   * The shortest time between two redraws in `live` mode, in ms: updates in between are
   * coalesced into the next redraw.
   * @defaultValue 100 (at most ten redraws a second)
   */
  readonly intervalMs?: number | undefined;
}

interface Row {
  label: string;
  state: ProgressState;
  /** Plain mode: what was last printed, to print only phase changes and 25% steps. */
  printedPhase: string | undefined;
  printedQuarter: number;
}

const ESC = '\u001b[';
const RESET = `${ESC}0m`;
const PHASE_COLORS: Readonly<Record<string, string>> = {
  pending: `${ESC}2m`,
  running: `${ESC}36m`,
  success: `${ESC}32m`,
  failure: `${ESC}31m`,
};
const PHASE_WIDTH = 'pending'.length;
const PERCENT_WIDTH = '100%'.length;
const MIN_BAR = 10;
const MAX_BAR = 30;
/** Columns assumed when a TTY does not say how wide it is. */
const DEFAULT_COLUMNS = 80;

/**
 * Shows the progress of several tasks. On a terminal (`live`), one line per task with its
 * label, a bar, the percentage, the phase and the latest message, redrawn in place at most
 * every `intervalMs`; elsewhere (`plain`), one line each time a task changes phase or passes a
 * 25% step.
 *
 * Call {@link ProgressView.close} when done: it draws the last state and stops the redraw timer.
 * Write nothing else to the sink between the first update and `close()` in `live` mode: the
 * redraw moves the cursor up over the lines it drew, and would overwrite anything in between.
 *
 * @example
 * ```ts
 * const view = new ProgressView(process.stdout);
 * view.add('a', 'highways');
 * view.update('a', { phase: 'running', progress: 0.4, message: 'scanned 4000 features' });
 * view.close();
 * ```
 */
export class ProgressView {
  readonly mode: ProgressMode;
  readonly #sink: ProgressSink;
  readonly #intervalMs: number;
  readonly #rows = new Map<string, Row>();
  #labelWidth = 0;
  /** Live mode: how many lines the last redraw wrote (the cursor is just below them). */
  #drawnLines = 0;
  #lastDrawAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #dirty = false;
  #closed = false;

  /**
   * @param sink - Where to write.
   * @param options - See {@link ProgressViewOptions}.
   * @throws TypeError when `intervalMs` is negative or not a number.
   */
  constructor(sink: ProgressSink, options?: ProgressViewOptions) {
    const intervalMs = options?.intervalMs ?? 100;
    if (typeof intervalMs !== 'number' || !(intervalMs >= 0)) {
      throw new TypeError(`ProgressView: expected \`intervalMs\` to be a non-negative number of milliseconds, got ${String(intervalMs)}`);
    }
    this.#sink = sink;
    this.#intervalMs = intervalMs;
    this.mode = options?.mode ?? ProgressView.modeFor(sink, process.env);
  }

  /**
   * Picks `live` for a terminal and `plain` otherwise: when the sink is not a TTY, when
   * `NO_COLOR` is set to anything but the empty string (no-color.org), when `TERM` is `dumb`,
   * or when the user asked for plain output.
   *
   * @param sink - Where the view will write.
   * @param env - The environment to read `NO_COLOR` and `TERM` from.
   * @param plain - The user asked for plain output (a `--plain` flag).
   * @returns The mode to pass to the constructor.
   */
  static modeFor(sink: ProgressSink, env: Readonly<Record<string, string | undefined>>, plain = false): ProgressMode {
    if (plain || sink.isTTY !== true) return 'plain';
    if ((env['NO_COLOR'] ?? '') !== '' || env['TERM'] === 'dumb') return 'plain';
    return 'live';
  }

  /**
   * Adds a task line (pending, 0%). Lines keep the order they were added in.
   * @throws TypeError when `id` was added already.
   */
  add(id: string, label: string): void {
    if (this.#rows.has(id)) throw new TypeError(`ProgressView.add(): a task with id ${JSON.stringify(id)} was added already`);
    this.#rows.set(id, { label, state: { phase: 'pending', progress: 0 }, printedPhase: undefined, printedQuarter: -1 });
    this.#labelWidth = Math.max(this.#labelWidth, label.length);
    this.#changed();
  }

  /**
   * Shows a task's new state. Updates after {@link ProgressView.close} are ignored.
   * @throws TypeError when `id` was not added.
   */
  update(id: string, state: ProgressState): void {
    const row = this.#rows.get(id);
    if (row === undefined) throw new TypeError(`ProgressView.update(): no task with id ${JSON.stringify(id)}; add() it first`);
    if (this.#closed) return;
    row.state = state;
    if (this.mode === 'plain') this.#printPlain(row);
    else this.#changed();
  }

  /**
   * Names a task line anew (its key, once known, instead of its id); later lines and redraws
   * show the new label.
   * @throws TypeError when `id` was not added.
   */
  relabel(id: string, label: string): void {
    const row = this.#rows.get(id);
    if (row === undefined) throw new TypeError(`ProgressView.relabel(): no task with id ${JSON.stringify(id)}; add() it first`);
    if (row.label === label) return;
    row.label = label;
    this.#labelWidth = Math.max(...[...this.#rows.values()].map((r) => r.label.length));
    this.#changed();
  }

  /** Draws the final state (live mode) and stops the redraw timer. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.mode === 'live' && (this.#dirty || this.#drawnLines === 0)) this.#draw();
  }

  #changed(): void {
    if (this.mode === 'plain' || this.#closed) return;
    this.#dirty = true;
    if (this.#timer !== undefined) return;
    const wait = this.#lastDrawAt + this.#intervalMs - Date.now();
    if (wait <= 0) {
      this.#draw();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#draw();
    }, wait);
    // The view must never keep a process alive: close() draws what a pending redraw would have.
    this.#timer.unref();
  }

  #draw(): void {
    this.#dirty = false;
    this.#lastDrawAt = Date.now();
    // One column short of the width: a line that fills the last column wraps on some
    // terminals, and a wrapped line breaks the cursor-up count.
    const width = Math.max(20, (this.#sink.columns ?? DEFAULT_COLUMNS) - 1);
    let out = this.#drawnLines > 0 ? `${ESC}${this.#drawnLines}A` : '';
    for (const row of this.#rows.values()) out += `\r${ESC}2K${this.#liveLine(row, width)}\n`;
    this.#drawnLines = this.#rows.size;
    this.#sink.write(out);
  }

  #liveLine(row: Row, width: number): string {
    const { phase, progress, message } = row.state;
    const labelWidth = Math.min(this.#labelWidth, Math.max(8, Math.floor(width / 3)));
    const label = truncate(row.label, labelWidth).padEnd(labelWidth);
    const percent = formatPercent(progress).padStart(PERCENT_WIDTH);
    const fixed = label.length + 2 + 2 + 2 + PERCENT_WIDTH + 2 + PHASE_WIDTH;
    // A third of what is left: the rest goes to the message.
    const barWidth = Math.max(MIN_BAR, Math.min(MAX_BAR, Math.floor((width - fixed) / 3)));
    const filled = Math.round(clamp(progress) * barWidth);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}`;
    const room = width - (fixed + barWidth) - 2;
    const text = room > 1 && message ? truncate(message, room) : '';
    const color = PHASE_COLORS[phase] ?? '';
    const tinted = (s: string): string => (color === '' ? s : `${color}${s}${RESET}`);
    return `${label}  [${tinted(bar)}]  ${percent}  ${tinted(phase.padEnd(PHASE_WIDTH))}${text === '' ? '' : `  ${text}`}`.trimEnd();
  }

  #printPlain(row: Row): void {
    const { phase, progress, message } = row.state;
    const quarter = Math.floor(clamp(progress) * 4);
    if (phase === row.printedPhase && quarter <= row.printedQuarter) return;
    row.printedPhase = phase;
    row.printedQuarter = quarter;
    const line = `${row.label.padEnd(this.#labelWidth)}  ${phase.padEnd(PHASE_WIDTH)}  ${formatPercent(progress).padStart(PERCENT_WIDTH)}${message ? `  ${message}` : ''}`;
    this.#sink.write(`${line.trimEnd()}\n`);
  }
}

function clamp(fraction: number): number {
  return Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
}

/** Whole percent, rounded down: 99.7% is not done, and must not read 100%. */
function formatPercent(fraction: number): string {
  return `${Math.floor(clamp(fraction) * 100)}%`;
}

function truncate(text: string, width: number): string {
  // Messages come from the backend: a line break would break the layout.
  const flat = text.replace(/[\r\n\t]+/g, ' ');
  return flat.length <= width ? flat : `${flat.slice(0, Math.max(0, width - 1))}…`;
}
