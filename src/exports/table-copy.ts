import type { Writable } from 'node:stream';
import type { Store } from '../db/store.ts';
import type { Column } from './columns.ts';
import { entrySelect } from './entries.ts';
import { write, type ExportContext } from './source.ts';

/**
 * The tabular formats' rows written set-based: one `COPY (SELECT …) TO STDOUT (FORMAT csv)` whose
 * cells are already the export's text (two-decimal amounts, spreadsheet-safe, empty for null), so
 * that Node only passes bytes on. PostgreSQL quotes a CSV field exactly when csv-stringify does (it
 * holds a comma, a quote, CR or LF; quotes doubled), except the empty string, which it quotes to
 * tell it from null: every empty cell is made null first. test/exports/csv-copy.test.ts compares
 * the output with the Node formatting it replaced, on hostile values, on both back ends.
 *
 * On the server the COPY streams, at the reader's pace. On the embedded back end a COPY's output is
 * one blob in memory, so the list is copied in slices of `ctx.pageSize` entries (keyset on
 * household_id, one short transaction each), and the database is free while a slice is written.
 */

// src/spreadsheet-safe.ts in SQL. JavaScript's \s spelled out: PostgreSQL's [[:space:]] depends on the locale.
const WHITE_SPACE = String.raw`\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff`;
const FORMULA_START = String.raw`^([${WHITE_SPACE}]*[=+@\uff1d\uff0b\uff0d\uff20-]|[\t\r])`;
const PLAIN_NUMBER = String.raw`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`;
/** The first characters (code points) of a cell that may need the prefix: a cheap test before the regular expressions. */
const RISKY_FIRST = [
  ...[0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff],
  ...Array.from({ length: 11 }, (_, i) => 0x2000 + i),
  ...['=', '+', '-', '@', '\uff1d', '\uff0b', '\uff0d', '\uff20', "'"].map((c) => c.codePointAt(0)!),
];

/**
 * Entries per COPY on the embedded back end when the caller sets no page size: a slice's output
 * (about 300 bytes an entry, some 3 MB) is held whole, and each COPY costs a plan of its own.
 */
export const COPY_SLICE_ENTRIES = 10_000;

/**
 * `text` as spreadsheetSafe writes it, and an empty text as null. `text` is read several times:
 * give a column, not an expression.
 */
export function spreadsheetSafeSql(text: string): string {
  return `CASE WHEN ${text} = '' THEN NULL
              WHEN ascii(${text}) NOT IN (${RISKY_FIRST.join(', ')}) THEN ${text}
              WHEN ${text} ~ '${FORMULA_START}' AND ${text} !~ '${PLAIN_NUMBER}' OR ascii(${text}) = 39 THEN '''' || ${text}
              ELSE ${text} END`;
}

/** One cell of the COPY: an empty cell is null (PostgreSQL would quote an empty string). */
function cellSql(column: Column, ctx: ExportContext): string {
  const value = column.sql === undefined ? `x.${column.name}` : typeof column.sql === 'string' ? column.sql : column.sql(ctx.list);
  return column.number ? value : spreadsheetSafeSql(value);
}

/**
 * The COPY of the entries `entries` selects (SQL over payment_list_entries), ordered by household
 * id. COPY takes no parameters: the list and release ids are numbers, written in.
 */
function copySql(ctx: ExportContext, columns: Column[], entries: string): string {
  const releaseId = ctx.release ? String(Number(ctx.release.id)) : 'NULL';
  // OFFSET 0 keeps the entries query a subquery of its own, so that each head-of-household
  // expression is computed once per row, not once for each time the escaping reads it.
  return `COPY (
    SELECT ${columns.map((c) => cellSql(c, ctx)).join(',\n           ')}
      FROM (${entrySelect(ctx, entries, releaseId)}
             ORDER BY e.household_id OFFSET 0) x
     ORDER BY x.household_id
  ) TO STDOUT WITH (FORMAT csv)`;
}

/**
 * Counts CSV records in a byte stream: line feeds outside quotes (a quote inside a field is doubled,
 * which keeps parity). Native indexOf over quotes and line feeds, each visited once.
 */
function recordCounter(): (chunk: Buffer) => number {
  let quoted = false;
  return (chunk) => {
    let records = 0;
    let at = 0;
    let lineFeed = chunk.indexOf(0x0a);
    while (at < chunk.length) {
      const quote = chunk.indexOf(0x22, at);
      if (quoted) {
        if (quote === -1) break;
        quoted = false;
        at = quote + 1;
        continue;
      }
      const end = quote === -1 ? chunk.length : quote;
      for (; lineFeed !== -1 && lineFeed < end; lineFeed = chunk.indexOf(0x0a, lineFeed + 1)) if (lineFeed >= at) records++;
      if (quote === -1) break;
      quoted = true;
      at = quote + 1;
    }
    return records;
  };
}

/** Writes the entries' rows of `columns` to `out` (the header is the caller's); returns the rows written. */
export async function copyTableRows(store: Store, ctx: ExportContext, columns: Column[], out: Writable): Promise<number> {
  const listId = Number(ctx.list.id);
  const count = recordCounter();
  let rows = 0;
  const pass = async (chunk: Buffer) => {
    await write(out, chunk);
    const before = rows;
    rows += count(chunk);
    if (rows > before) ctx.onProgress?.(rows, ctx.rows);
  };
  if (store.backend === 'server') {
    const whole = `(SELECT * FROM payment_list_entries WHERE list_id = ${listId})`;
    await store.transaction(({ raw }) => raw.copyTo(copySql(ctx, columns, whole), pass));
    return rows;
  }
  for (let after = 0; ; ) {
    const slice = await store.transaction(async ({ raw }) => {
      // Walk the primary key from `after` (PGlite never auto-analyses; see entries.ts).
      await raw.query('SET LOCAL enable_sort = off');
      const { rows: bounds } = await raw.query<{ last: number | null; n: number }>(
        `SELECT max(household_id) AS last, count(*)::int AS n
           FROM (SELECT household_id FROM payment_list_entries WHERE list_id = $1 AND household_id > $2 ORDER BY household_id LIMIT $3) s`,
        [listId, after, ctx.pageSize],
      );
      const { last, n } = bounds[0];
      if (n === 0 || last === null) return { last: after, n: 0, pieces: [] };
      // The slice is bounded: the COPY may sort it (unanalysed, 100k bench: 37 % → 47 % of a bare COPY's rate).
      await raw.query('SET LOCAL enable_sort = on');
      const pieces: Buffer[] = [];
      const entries = `(SELECT * FROM payment_list_entries WHERE list_id = ${listId} AND household_id > ${Number(after)} AND household_id <= ${Number(last)})`;
      await raw.copyTo(copySql(ctx, columns, entries), async (piece) => void pieces.push(piece));
      return { last: Number(last), n, pieces };
    });
    for (const piece of slice.pieces) await pass(piece);
    if (slice.n < ctx.pageSize) return rows;
    after = slice.last;
  }
}
