import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { PayloadError } from './model.ts';
import { readFeedNumber } from './strict-number.ts';

const UTF8_BOM = '\uFEFF';
/** A UTF-8 BOM that was itself decoded as Latin-1 and re-encoded (seen in a GDACS RSS copy). */
const DOUBLE_ENCODED_BOM = '\u00EF\u00BB\u00BF';

/** Bytes → text, without a byte-order mark (plain or double-encoded) and leading white space. */
export function payloadText(bytes: Buffer): string {
  let text = bytes.toString('utf8');
  if (text.startsWith(UTF8_BOM)) text = text.slice(1);
  if (text.startsWith(DOUBLE_ENCODED_BOM)) text = text.slice(DOUBLE_ENCODED_BOM.length);
  return text.replace(/^\s+/, '');
}

/** Parses JSON or throws a PayloadError that says where it broke. */
export function parseJsonPayload(bytes: Buffer): unknown {
  const text = payloadText(bytes);
  if (!text) throw new PayloadError('the payload is empty');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PayloadError(`not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Parses XML safely: a document type declaration is refused outright (no entity expansion, so no
 * "billion laughs"), namespace prefixes are removed (`cap:alert` and `alert` read the same), and
 * attributes come as `@_name`. Repeated elements are arrays only where `arrays` names them.
 */
export function parseXmlPayload(bytes: Buffer, arrays: readonly string[] = []): Record<string, unknown> {
  const text = payloadText(bytes);
  if (!text) throw new PayloadError('the payload is empty');
  if (/<!DOCTYPE|<!ENTITY/i.test(text.slice(0, 4096)) || /<!ENTITY/i.test(text)) {
    throw new PayloadError('XML with a DOCTYPE or ENTITY declaration is refused (entity expansion is unsafe)');
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw new PayloadError(`not well-formed XML: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`);
  }
  const arraySet = new Set(arrays);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    removeNSPrefix: true,
    processEntities: true, // the five predefined XML entities only; declarations were refused above
    htmlEntities: false,
    parseTagValue: false, // keep text as text: adapters convert, so "007" or "1e3" never surprise
    parseAttributeValue: false,
    trimValues: true,
    isArray: (name) => arraySet.has(name),
  });
  try {
    return parser.parse(text) as Record<string, unknown>;
  } catch (error) {
    // The validator passes some documents the parser then refuses (nesting past its limit).
    throw new PayloadError(`not readable XML: ${(error as Error).message}`);
  }
}

/** Text content of an element that may carry attributes (`{ '#text': 'x', '@_unit': 'M' }`). */
export function textOf(node: unknown): string | null {
  if (node === undefined || node === null) return null;
  if (typeof node === 'string') return node.trim() || null;
  if (typeof node === 'number' || typeof node === 'boolean') return String(node);
  if (typeof node === 'object' && '#text' in (node as object)) return textOf((node as { '#text': unknown })['#text']);
  return null;
}

/** A finite number from a number or decimal string ("618615", " 5.8 "), else null: readFeedNumber's rules (no hex, no 1e300). */
export function numberOf(value: unknown): number | null {
  return readFeedNumber(value).value ?? null;
}

/** Always an array: XML gives one child as an object and many as an array. */
export function asArray<T>(value: T | T[] | undefined | null): T[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * A source timestamp as ISO 8601 UTC. Accepts ISO with or without a zone (no zone means UTC, the
 * GDACS convention), RFC 822 (`Mon, 30 Dec 2019 10:20:00 GMT`) and epoch milliseconds.
 */
export function isoTime(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'number') {
    const date = new Date(value); // past ±8.64e15 ms a Date is invalid, and toISOString would throw
    return Number.isNaN(date.getTime()) ? null : date.toISOString();
  }
  const text = String(value).trim();
  const noZone = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(text);
  const date = new Date(noZone ? (text.length === 10 ? `${text}T00:00:00Z` : `${text}Z`) : text);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export type Json = Record<string, unknown>;

/** A plain JSON object (not an array, not null). */
export const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Inside an adapter: one record cannot be read; the message becomes its Rejection reason. */
export class RecordError extends Error {}

/**
 * Why one record could not be read, for its Rejection. A RecordError says so; anything else an
 * adapter's code throws on a hostile record (an impossible date, a stack exhausted by nesting) is
 * about that record too, so its siblings still land.
 */
export function recordProblem(error: unknown): string {
  if (error instanceof RecordError) return error.message;
  if (error instanceof RangeError && /call stack/i.test(error.message)) return 'the record is nested too deeply to read';
  if (error instanceof Error) return `the record could not be read: ${error.message}`;
  throw error;
}
