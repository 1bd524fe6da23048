import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';

// Every `@throws` of the core's and the client's public modules names the class a caller can
// catch: one the package exports (checked with `instanceof`), or a built-in TypeError or
// RangeError for bad arguments; never a bare `Error`.

const ROOTS = ['src/core', 'src/client', 'machines'];
const BUILT_IN = new Set(['TypeError', 'RangeError']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    // Internal modules are no API: their `@throws` speak of internal classes.
    if (entry.isDirectory()) return entry.name === 'internal' || entry.name === 'http' ? [] : sources(join(dir, entry.name));
    return entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [];
  });
}

function throwsTags(): { file: string; line: number; name: string }[] {
  const tags: { file: string; line: number; name: string }[] = [];
  for (const root of ROOTS) {
    for (const file of sources(root)) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((text, i) => {
          for (const match of text.matchAll(/@throws\s+(?:\{@link\s+(\w+)\}|(\w+))/g)) tags.push({ file, line: i + 1, name: (match[1] ?? match[2])! });
        });
    }
  }
  return tags;
}

describe('@throws in the API docs', () => {
  const tags = throwsTags();

  it('finds the tags it checks', () => {
    expect(tags.length).toBeGreaterThan(15);
    expect(tags.map((t) => t.name)).toContain('TimeoutError');
  });

  it('each names an exported error class or a built-in TypeError/RangeError', () => {
    const exported = api as unknown as Record<string, unknown>;
    const wrong = tags.filter(({ name }) => {
      if (BUILT_IN.has(name)) return false;
      const value = exported[name];
      return !(typeof value === 'function' && value.prototype instanceof Error);
    });
    expect(wrong.map(({ file, line, name }) => `${file}:${line} @throws ${name}`)).toEqual([]);
  });
});
