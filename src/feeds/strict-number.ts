/**
 * The one reader of numbers that come from feeds. JavaScript's `Number()` is far too lenient for
 * evidence that moves money: it reads "0x5" as 5, "" as 0, "Infinity" as a number and " 1e300 "
 * as a figure. Here a number is a plain decimal (optional sign, optional fraction, optional
 * exponent), finite, and no larger in magnitude than any figure a feed publishes.
 *
 * ```ts
 * readFeedNumber(' 5.8 ')   // { value: 5.8 }
 * readFeedNumber('0x5')     // { problem: '"0x5" is not a decimal number (hexadecimal …)' }
 * ```
 */

/**
 * No feed figure comes near this (populations ~1e10, epoch milliseconds ~2e12, discharge ~1e6):
 * a larger magnitude is a corrupt or hostile value, not data.
 */
export const MAX_FEED_MAGNITUDE = 1e15;

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export type FeedNumber = { value: number; problem?: undefined } | { value?: undefined; problem: string };

/** A number from a JSON number or a text cell, or the problem in words (quoting what was read). */
export function readFeedNumber(raw: unknown): FeedNumber {
  if (typeof raw === 'number') return checkMagnitude(raw, String(raw));
  if (typeof raw !== 'string') return { problem: `${describe(raw)} is not a number` };
  const text = raw.trim();
  const quoted = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
  if (text === '') return { problem: 'the value is empty' };
  if (/^[+-]?0[xXoObB]/.test(text)) return { problem: `${quoted} is not a decimal number (hexadecimal, octal and binary are refused)` };
  if (/^[+-]?(Infinity|inf|NaN)$/i.test(text)) return { problem: `${quoted} is not a finite number` };
  if (!DECIMAL.test(text)) return { problem: `${quoted} is not a number` };
  return checkMagnitude(Number(text), quoted);
}

function checkMagnitude(n: number, shown: string): FeedNumber {
  if (!Number.isFinite(n)) return { problem: `${shown} is not a finite number` };
  if (Math.abs(n) > MAX_FEED_MAGNITUDE) return { problem: `${shown} is beyond ±1e15, larger than any figure a feed publishes` };
  return { value: n };
}

function describe(raw: unknown): string {
  if (raw === null) return 'null';
  if (raw === undefined) return 'nothing';
  return typeof raw === 'object' ? (Array.isArray(raw) ? 'a list' : 'an object') : JSON.stringify(raw);
}
