/**
 * Formula injection (OWASP "CSV Injection"): a spreadsheet opening a CSV runs a cell that begins
 * with `=`, `+`, `-`, `@` (or TAB or CR, or one of these after leading spaces) as a formula, so a
 * registry value such as `=HYPERLINK("http://x","click")` would act on the reader's machine. Such
 * a cell is written with a leading `'`, which spreadsheets read as "this is text".
 *
 * A cell that is wholly a plain number is left alone: `+254712345678` or `-5.20` are read as
 * numbers, not formulas, and a prefix would corrupt phone numbers and payment accounts. A cell that
 * already begins with `'` gets one more, so that removing one `'` (unescapeCell) always gives back
 * the value that was in the database.
 *
 * csv-stringify's own `escape_formulas` is not used: it looks at the first character only (not
 * after leading spaces) and prefixes `+254…` when it is a string.
 *
 * ```ts
 * spreadsheetSafe('=1+1')           // "'=1+1"
 * spreadsheetSafe('+254712345678')  // "+254712345678"
 * unescapeCell(spreadsheetSafe(s)) === s
 * ```
 */

// Leading white space, then a character that starts a formula (the fullwidth forms too, which
// some spreadsheets normalise). TAB and CR start one by themselves.
const FORMULA_START = /^[\s\u00a0\u3000]*[=+\-@\uff1d\uff0b\uff0d\uff20]|^[\t\r]/;
const PLAIN_NUMBER = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$/;

/** True when a spreadsheet would read the text as a formula (and it is not a plain number). */
export function isFormulaLike(text: string): boolean {
  return FORMULA_START.test(text) && !PLAIN_NUMBER.test(text);
}

/** The text as a cell a spreadsheet shows as text: `'` before a formula-like value (or one that begins with `'`). */
export function spreadsheetSafe(text: string): string {
  return isFormulaLike(text) || text.startsWith("'") ? `'${text}` : text;
}

/** A cell of one of our exports back to the stored value: drops the `'` spreadsheetSafe added. */
export function unescapeCell(cell: string): string {
  return cell.startsWith("'") ? cell.slice(1) : cell;
}

/** A cell value of any type made safe; numbers and empty cells pass as they are. */
export function safeCell(value: string | number | null | undefined): string | number {
  if (value === null || value === undefined) return '';
  return typeof value === 'number' ? value : spreadsheetSafe(value);
}
