import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProgressView, type ProgressSink } from '../../src/cli/progress-view.js';

const ESC = '\u001b';
const ANSI = new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`);
const CONTROL = new RegExp(`^${ESC}\\[([0-9;?]*)([A-Za-z])`);

/** A stand-in for a terminal stream: records what is written. */
function sink(options: { isTTY: boolean; columns?: number }): ProgressSink & { chunks: string[]; text(): string } {
  const chunks: string[] = [];
  return {
    isTTY: options.isTTY,
    columns: options.columns,
    chunks,
    write(chunk: string) {
      chunks.push(chunk);
      return true;
    },
    text: () => chunks.join(''),
  };
}

/**
 * What a terminal shows after `output`: handles the few controls the view uses (line feed,
 * carriage return, cursor up, erase line, colours) and nothing else.
 */
function screen(output: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  for (let i = 0; i < output.length; i++) {
    const c = output[i]!;
    if (c === '\u001b') {
      const m = CONTROL.exec(output.slice(i))!;
      const [all, arg, op] = m;
      if (op === 'A') row = Math.max(0, row - Number(arg || 1));
      else if (op === 'K') lines[row] = '';
      else if (op !== 'm') throw new Error(`unexpected control ${JSON.stringify(all)}`);
      i += all.length - 1;
    } else if (c === '\n') {
      row++;
      col = 0;
      lines[row] ??= '';
    } else if (c === '\r') {
      col = 0;
    } else {
      const line = (lines[row] ?? '').padEnd(col);
      lines[row] = line.slice(0, col) + c + line.slice(col + 1);
      col++;
    }
  }
  return lines.filter((line, i) => i < lines.length - 1 || line !== '');
}

describe('ProgressView (live, on a terminal)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('draws one line per task: label, bar, percent, phase and message', () => {
    const out = sink({ isTTY: true, columns: 80 });
    const view = new ProgressView(out, { mode: 'live' });
    view.add('1', 'highways');
    vi.advanceTimersByTime(100);
    view.add('2', 'everything');
    vi.advanceTimersByTime(100);
    view.update('1', { phase: 'running', progress: 0.5, message: 'scanned 500 features' });
    view.close();
    const lines = screen(out.text());
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^highways {4}\[█+░+\]\s+50%\s+running\s+scanned 500 features$/);
    expect(lines[1]).toMatch(/^everything\s+\[░+\]\s+0%\s+pending$/);
    const bar = /\[(.+)\]/.exec(lines[0]!)![1]!;
    expect(bar.split('█').length - 1).toBe(bar.length / 2);
  });

  it('redraws in place: cursor up over the lines it drew, each line erased first', () => {
    const out = sink({ isTTY: true, columns: 80 });
    const view = new ProgressView(out, { mode: 'live' });
    view.add('1', 'a');
    view.add('2', 'b');
    view.add('3', 'c');
    // The first line was drawn at once, the next two 100 ms later: over the one line drawn.
    expect(out.chunks[0]!.startsWith('\u001b[')).toBe(false);
    vi.advanceTimersByTime(100);
    expect(out.chunks).toHaveLength(2);
    expect(out.chunks[1]!.startsWith('\u001b[1A')).toBe(true);
    view.update('2', { phase: 'running', progress: 0.25 });
    vi.advanceTimersByTime(100);
    const last = out.chunks.at(-1)!;
    expect(last.startsWith('\u001b[3A')).toBe(true);
    expect(last.split('\r\u001b[2K')).toHaveLength(4);
    view.close();
    const lines = screen(out.text());
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^b\s+\[.+\]\s+25%\s+running$/);
  });

  it('redraws at most once per interval, coalescing the updates in between', () => {
    const out = sink({ isTTY: true, columns: 80 });
    const view = new ProgressView(out, { mode: 'live', intervalMs: 100 });
    view.add('1', 'a');
    expect(out.chunks).toHaveLength(1);
    for (let i = 1; i <= 50; i++) {
      view.update('1', { phase: 'running', progress: i / 100 });
      vi.advanceTimersByTime(1);
    }
    // 50 updates over 50 ms: nothing drawn yet, one redraw pending.
    expect(out.chunks).toHaveLength(1);
    vi.advanceTimersByTime(50);
    expect(out.chunks).toHaveLength(2);
    expect(screen(out.text())[0]).toMatch(/50%/);
    vi.advanceTimersByTime(1000);
    expect(out.chunks).toHaveLength(2);
    view.close();
  });

  it('draws the last state on close and leaves no timer behind', () => {
    const out = sink({ isTTY: true, columns: 80 });
    const view = new ProgressView(out, { mode: 'live' });
    view.add('1', 'a');
    view.update('1', { phase: 'success', progress: 1, message: '5.3 MiB written' });
    expect(vi.getTimerCount()).toBe(1);
    view.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(screen(out.text())).toEqual([expect.stringMatching(/^a\s+\[█+\]\s+100%\s+success\s+5\.3 MiB written$/)]);
    const before = out.chunks.length;
    view.update('1', { phase: 'failure', progress: 1 });
    view.close();
    expect(out.chunks).toHaveLength(before);
  });

  it('keeps every line narrower than the terminal, so that no line wraps', () => {
    const out = sink({ isTTY: true, columns: 50 });
    const view = new ProgressView(out, { mode: 'live' });
    view.add('1', 'a-rather-long-label-for-a-task');
    view.update('1', { phase: 'running', progress: 0.3, message: 'scanned 123456 features, matched 7890\nand more' });
    view.close();
    const lines = screen(out.text());
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThan(50);
    expect(lines[0]).toContain('30%');
    expect(lines[0]).toContain('running');
  });

  it('colours the phase on a terminal', () => {
    const out = sink({ isTTY: true, columns: 80 });
    const view = new ProgressView(out, { mode: 'live' });
    view.add('1', 'a');
    view.update('1', { phase: 'failure', progress: 0.1, message: 'timeout' });
    view.close();
    expect(out.text()).toContain('\u001b[31mfailure');
  });
});

describe('ProgressView (plain)', () => {
  it('prints a line per phase change and per 25% step, without escapes', () => {
    const out = sink({ isTTY: false });
    const view = new ProgressView(out);
    expect(view.mode).toBe('plain');
    view.add('1', 'highways');
    view.add('2', 'too-slow');
    view.update('1', { phase: 'pending', progress: 0 });
    for (const progress of [0.05, 0.1, 0.26, 0.3, 0.5, 0.74, 0.76, 1]) view.update('1', { phase: 'running', progress, message: 'scanning' });
    view.update('1', { phase: 'success', progress: 1, message: '5.3 MiB written' });
    view.update('2', { phase: 'failure', progress: 0, message: 'timeout' });
    view.close();
    expect(out.text()).not.toContain(ESC);
    expect(out.text()).not.toMatch(ANSI);
    expect(out.text().split('\n')).toEqual([
      'highways  pending    0%',
      'highways  running    5%  scanning',
      'highways  running   26%  scanning',
      'highways  running   50%  scanning',
      'highways  running   76%  scanning',
      'highways  running  100%  scanning',
      'highways  success  100%  5.3 MiB written',
      'too-slow  failure    0%  timeout',
      '',
    ]);
  });

  it('rejects an update for a task it does not know', () => {
    const view = new ProgressView(sink({ isTTY: false }));
    expect(() => view.update('x', { phase: 'running', progress: 0 })).toThrow(TypeError);
  });
});

describe('ProgressView.modeFor', () => {
  const tty = { isTTY: true, write: () => true };
  it('is live on a terminal', () => expect(ProgressView.modeFor(tty, {})).toBe('live'));
  it('is plain on a pipe', () => expect(ProgressView.modeFor({ write: () => true }, {})).toBe('plain'));
  it('is plain with NO_COLOR set', () => expect(ProgressView.modeFor(tty, { NO_COLOR: '1' })).toBe('plain'));
  it('ignores an empty NO_COLOR', () => expect(ProgressView.modeFor(tty, { NO_COLOR: '' })).toBe('live'));
  it('is plain on a dumb terminal', () => expect(ProgressView.modeFor(tty, { TERM: 'dumb' })).toBe('plain'));
  it('is plain when asked', () => expect(ProgressView.modeFor(tty, {}, true)).toBe('plain'));
});

describe('ProgressView.relabel', () => {
  it('names a line anew: later plain lines and live redraws show the new label, widened to fit', () => {
    const plain = sink({ isTTY: false });
    const view = new ProgressView(plain, { mode: 'plain' });
    view.add('e1', 'e1');
    view.update('e1', { phase: 'running', progress: 0 });
    view.relabel('e1', 'exports/roads.ndjson');
    view.update('e1', { phase: 'success', progress: 1 });
    view.close();
    expect(plain.text()).toBe('e1  running    0%\nexports/roads.ndjson  success  100%\n');

    const terminal = sink({ isTTY: true, columns: 80 });
    const live = new ProgressView(terminal, { mode: 'live', intervalMs: 0 });
    live.add('e1', 'e1');
    live.relabel('e1', 'exports/roads.ndjson');
    live.close();
    expect(screen(terminal.text())[0]).toMatch(/^exports\/roads\.ndjson {2}\[/);
  });

  it('throws for a line never added', () => {
    const view = new ProgressView(sink({ isTTY: false }), { mode: 'plain' });
    expect(() => view.relabel('nope', 'x')).toThrow(new TypeError('ProgressView.relabel(): no task with id "nope"; add() it first'));
  });
});
