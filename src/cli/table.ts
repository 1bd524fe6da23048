/** One column of a {@link formatTable} table. */
export interface TableColumn {
  /** The header text. */
  readonly header: string;
  /**
   * Which side cells line up on.
   * @defaultValue 'left' (use 'right' for numbers, so their digits line up)
   */
  readonly align?: 'left' | 'right' | undefined;
}

/** Options of {@link formatTable}. */
export interface FormatTableOptions {
  /**
   * What separates two columns.
   * @defaultValue two spaces
   */
  readonly gap?: string | undefined;
}

/**
 * Lays rows out as a plain text table: a header line, a rule of dashes under it, then one line
 * per row, every column as wide as its widest cell. No escapes and no trailing spaces, so the
 * output reads the same in a terminal, a log file or a test's snapshot.
 *
 * Widths count UTF-16 code units: keep cells to text whose characters are one column wide.
 *
 * @example
 * ```ts
 * formatTable([{ header: 'task' }, { header: 'MiB', align: 'right' }], [['roads', '12.5'], ['rails', '3.0']]);
 * // task   MiB
 * // -----  ----
 * // roads  12.5
 * // rails   3.0
 * ```
 * @param columns - The columns, in order.
 * @param rows - The cells of each row, in column order.
 * @param options - See {@link FormatTableOptions}.
 * @returns The table's lines joined by `\n`, without a final newline.
 * @throws TypeError when a row has a different number of cells than there are columns.
 */
export function formatTable(columns: readonly TableColumn[], rows: readonly (readonly string[])[], options?: FormatTableOptions): string {
  const gap = options?.gap ?? '  ';
  rows.forEach((row, i) => {
    if (row.length !== columns.length) {
      throw new TypeError(`formatTable(): expected row ${i} to have ${columns.length} cells (one per column), got ${row.length}`);
    }
  });
  const widths = columns.map((column, c) => Math.max(column.header.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (columns[c]!.align === 'right' ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join(gap)
      .trimEnd();
  return [
    line(columns.map((column) => column.header)),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
  ].join('\n');
}
