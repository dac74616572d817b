import type { SmokeReport, SmokeRow } from './run.js';

/** PASS, FAIL or N-E (not enforced by this backend: reported, not a failure). */
export function resultLabel(ok: SmokeRow['ok']): 'PASS' | 'FAIL' | 'N-E' {
  return ok === true ? 'PASS' : ok === 'not-enforced' ? 'N-E' : 'FAIL';
}

/** `smoke: N passed, M failed[, K not enforced]` */
export function summaryLine(report: Pick<SmokeReport, 'passed' | 'failed' | 'notEnforced'>): string {
  return `smoke: ${report.passed} passed, ${report.failed} failed${report.notEnforced > 0 ? `, ${report.notEnforced} not enforced` : ''}`;
}

export const TABLE_HEADER = ['store', 'check', 'result', 'ms', 'detail'] as const;

/** One table row per check (store, check, result, ms, detail). */
export function rowCells(store: string, backend: string, row: SmokeRow): string[] {
  return [`${store} (${backend})`, row.check, resultLabel(row.ok), String(row.ms), row.detail ?? ''];
}

/** The plain-text table (padded columns, no colours: stable for grep/awk) and the summary line. */
export function formatReport(report: SmokeReport): string {
  const rows = report.stores.flatMap((s) => s.rows.map((r) => rowCells(s.store, s.backend, r)));
  return `${formatTable([...TABLE_HEADER], rows)}\n${summaryLine(report)}`;
}

/** The report as JSON (what `--json` prints): indented for a person, else one line (a pipe, a log). */
export function formatJson(report: SmokeReport, pretty = false): string {
  return pretty ? JSON.stringify(report, null, 2) : JSON.stringify(report);
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => {
        if (i === cells.length - 1) return c;
        // The ms column is right-aligned.
        return header[i] === 'ms' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0);
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
