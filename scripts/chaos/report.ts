/** One table of label → value rows, printed as the chaos run's result. */
export interface ReportRow {
  label: string;
  value: string;
  /** Undefined for a figure; true/false for an invariant that held or was violated. */
  ok?: boolean;
}

export function formatTable(title: string, rows: ReportRow[]): string {
  const width = Math.max(...rows.map((r) => r.label.length), 10);
  const valueWidth = Math.max(...rows.map((r) => r.value.length), 5);
  const line = `+-${'-'.repeat(width)}-+-${'-'.repeat(valueWidth)}-+------+`;
  const out = [title, line, `| ${'measure'.padEnd(width)} | ${'value'.padEnd(valueWidth)} | ok?  |`, line];
  for (const r of rows) out.push(`| ${r.label.padEnd(width)} | ${r.value.padEnd(valueWidth)} | ${r.ok === undefined ? '    ' : r.ok ? 'ok  ' : 'FAIL'} |`);
  out.push(line);
  return out.join('\n');
}

/** A table with a header row, columns padded to their widest cell. */
export function formatColumns(title: string, headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const render = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [title, line, render(headers), line, ...rows.map(render), line].join('\n');
}
