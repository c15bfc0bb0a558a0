import fc from 'fast-check';

/**
 * Mutations of a real payload, as a broken source or an attacker would send it: a flipped byte,
 * a cut, a NUL (raw or JSON-escaped), nesting thousands deep, numbers no source means (1e999,
 * hex, 400 digits), a year 0000, swapped coordinates, an entity or alias bomb. Each is plain data, so a failing case
 * prints what was done and where.
 */
export type Mutation =
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'nul'; at: number; escaped: boolean }
  | { kind: 'nest'; at: number; depth: number }
  | { kind: 'number'; nth: number; text: string }
  | { kind: 'year0'; nth: number }
  | { kind: 'swap'; nth: number }
  | { kind: 'bomb' };

const HOSTILE_NUMBERS = ['1e999', '-1e300', '0x5', '-5', '1e308', '9'.repeat(400), 'NaN', '1e-400', '-0'];

export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('nul' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), escaped: fc.boolean() }),
  fc.record({ kind: fc.constant('nest' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), depth: fc.constantFrom(100, 1000, 20000) }),
  fc.record({ kind: fc.constant('number' as const), nth: fc.nat({ max: 400 }), text: fc.constantFrom(...HOSTILE_NUMBERS) }),
  fc.record({ kind: fc.constant('year0' as const), nth: fc.nat({ max: 100 }) }),
  fc.record({ kind: fc.constant('swap' as const), nth: fc.nat({ max: 400 }) }),
  fc.constant({ kind: 'bomb' as const }),
);

export type Format = 'json' | 'xml' | 'csv' | 'yaml';

const XML_BOMB = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>';
const YAML_BOMB = ['b0: &b0 [x,x,x,x,x,x,x,x,x]', ...Array.from({ length: 8 }, (_, i) => `b${i + 1}: &b${i + 1} [${Array(9).fill(`*b${i}`).join(',')}]`)].join('\n');

/** `bytes` with `mutation` applied, for a payload of `format`. */
export function mutate(bytes: Buffer, mutation: Mutation, format: Format): Buffer {
  const index = (at: number) => Math.min(bytes.length, Math.floor(at * bytes.length));
  const text = () => bytes.toString('utf8');
  const insertAt = (source: string, position: number, what: string) => source.slice(0, position) + what + source.slice(position);
  switch (mutation.kind) {
    case 'flip': {
      if (bytes.length === 0) return bytes;
      const copy = Buffer.from(bytes);
      copy[Math.min(copy.length - 1, index(mutation.at))] = mutation.byte;
      return copy;
    }
    case 'truncate':
      return bytes.subarray(0, index(mutation.at));
    case 'nul': {
      const source = text();
      const position = Math.floor(mutation.at * source.length);
      if (mutation.escaped && format === 'json') {
        // Inside the next string: after its opening quote.
        const quote = source.indexOf('"', position);
        return Buffer.from(quote < 0 ? source : insertAt(source, quote + 1, '\\u0000'));
      }
      return Buffer.from(insertAt(source, position, '\u0000'));
    }
    case 'nest': {
      const source = text();
      const position = Math.floor(mutation.at * source.length);
      const d = mutation.depth;
      if (format === 'json') {
        const key = source.indexOf('"coordinates":', position);
        const geometry = source.indexOf('"geometry":', position);
        if (geometry >= 0 && (key < 0 || geometry < key) && source.slice(geometry + 11).trimStart().startsWith('{')) {
          const nested = `${'{"type":"GeometryCollection","geometries":['.repeat(d)}{"type":"Point","coordinates":[1,2]}${']}'.repeat(d)}`;
          return Buffer.from(`${source.slice(0, geometry)}"geometry":${nested},"was_geometry":${source.slice(geometry + 11)}`);
        }
        if (key >= 0) return Buffer.from(`${source.slice(0, key)}"coordinates":${'['.repeat(d)}${']'.repeat(d)},"was":${source.slice(key + 14)}`);
        return Buffer.from(`${'['.repeat(d)}${source}${']'.repeat(d)}`);
      }
      if (format === 'xml') {
        const tagEnd = source.indexOf('>', position);
        return Buffer.from(tagEnd < 0 ? source : insertAt(source, tagEnd + 1, `${'<x>'.repeat(d)}${'</x>'.repeat(d)}`));
      }
      if (format === 'yaml') {
        const lineEnd = source.indexOf('\n', position);
        return Buffer.from(insertAt(source, lineEnd < 0 ? source.length : lineEnd + 1, `deep: ${'['.repeat(d)}${']'.repeat(d)}\n`));
      }
      // CSV has no nesting: a line with thousands of fields instead.
      const lineEnd = source.indexOf('\n', position);
      return Buffer.from(insertAt(source, lineEnd < 0 ? source.length : lineEnd + 1, `${Array(d).fill('x').join(',')}\n`));
    }
    case 'number':
      return Buffer.from(replaceNth(text(), /-?\d+(\.\d+)?([eE][-+]?\d+)?/g, mutation.nth, mutation.text));
    case 'swap':
      // Two decimal numbers side by side ([lon, lat], "lat lon", a CSV's lat,lon): swapped.
      return Buffer.from(replaceNth(text(), /(-?\d+\.\d+)(\s*,\s*|\s+)(-?\d+\.\d+)/g, mutation.nth, (match) => {
        const [, first, between, second] = /^(-?\d+\.\d+)(\s*,\s*|\s+)(-?\d+\.\d+)$/.exec(match)!;
        return `${second}${between}${first}`;
      }));
    case 'year0':
      return Buffer.from(replaceNth(text(), /\d{4}(-\d{2}-\d{2})/g, mutation.nth, (match) => `0000${match.slice(4)}`));
    case 'bomb': {
      const source = text();
      if (format === 'xml') {
        const afterDeclaration = source.startsWith('<?xml') ? source.indexOf('?>') + 2 : 0;
        return Buffer.from(`${insertAt(source, afterDeclaration, XML_BOMB)}`.replace(/<title>/, '<title>&lol3;'));
      }
      if (format === 'yaml') return Buffer.from(`${source.trimEnd()}\n${YAML_BOMB}\n`);
      if (format === 'json') return Buffer.from(`{"bomb":${'['.repeat(100000)}${']'.repeat(100000)},"was":${source}}`);
      return Buffer.from(source.replace('\n', `\n${'"'.repeat(3)}${'x'.repeat(100000)}\n`));
    }
  }
}

function replaceNth(source: string, pattern: RegExp, nth: number, replacement: string | ((match: string) => string)): string {
  const matches = [...source.matchAll(pattern)];
  if (matches.length === 0) return source;
  const match = matches[nth % matches.length];
  const replaced = typeof replacement === 'string' ? replacement : replacement(match[0]);
  return source.slice(0, match.index) + replaced + source.slice(match.index! + match[0].length);
}

/** Counts of each outcome, printed at the end of a suite for the note. */
export class Outcomes {
  readonly counts = new Map<string, number>();
  add(outcome: string): void {
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
  }
  toString(): string {
    return [...this.counts].sort().map(([k, v]) => `${k}: ${v}`).join(', ');
  }
}
