/**
 * A small RFC 4180 reader for CSV previews: quoted fields with "" escapes and
 * line breaks inside quotes, CRLF or LF rows. It stops at `maxRows` rows and
 * keeps at most `maxColumns` fields per row; `complete` says whether it read
 * the whole text (a preview cut at its byte bound drops its last, partial row).
 */
export interface CsvTable {
  rows: string[][];
  complete: boolean;
}

export function readCsv(text: string, opts: { maxRows: number; maxColumns: number; cut: boolean }): CsvTable {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const endField = (): void => {
    if (row.length < opts.maxColumns) row.push(field);
    field = '';
  };
  const endRow = (): boolean => {
    endField();
    rows.push(row);
    row = [];
    return rows.length < opts.maxRows;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ',') endField();
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (!endRow()) return { rows, complete: i + 1 >= text.length };
    } else field += c;
    i++;
  }
  // The text ends inside a row: a whole last row without its line break, unless the text itself was cut.
  if ((field !== '' || row.length > 0) && !opts.cut) endRow();
  return { rows, complete: !opts.cut };
}
