import { describe, expect, it } from 'vitest';
import { formatTable } from '../../src/cli/table.js';

describe('formatTable', () => {
  it('pads every column to its widest cell and rules the header', () => {
    const table = formatTable(
      [{ header: 'export' }, { header: 'MiB', align: 'right' }, { header: 'status' }],
      [
        ['everything', '73.0', 'SUCCESS'],
        ['bad-range', '0.1', 'FAILURE'],
      ],
    );
    expect(table.split('\n')).toEqual([
      'export       MiB  status',
      '----------  ----  -------',
      'everything  73.0  SUCCESS',
      'bad-range    0.1  FAILURE',
    ]);
  });

  it('leaves no trailing spaces when the last column is left-aligned and short', () => {
    const table = formatTable([{ header: 'a' }, { header: 'long header' }], [['x', 'y']]);
    for (const line of table.split('\n')) expect(line).toBe(line.trimEnd());
    expect(table.split('\n')[2]).toBe('x  y');
  });

  it('takes a custom gap', () => {
    expect(formatTable([{ header: 'a' }, { header: 'b' }], [['1', '2']], { gap: ' | ' })).toBe('a | b\n- | -\n1 | 2');
  });

  it('prints only the header and rule when there are no rows', () => {
    expect(formatTable([{ header: 'task' }, { header: 'size', align: 'right' }], [])).toBe('task  size\n----  ----');
  });

  it('throws a TypeError naming the row whose cell count is wrong', () => {
    expect(() => formatTable([{ header: 'a' }, { header: 'b' }], [['1', '2'], ['3']])).toThrow(
      new TypeError('formatTable(): expected row 1 to have 2 cells (one per column), got 1'),
    );
  });
});
