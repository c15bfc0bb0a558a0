import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, written } from '../../src/interop/canonical-json.ts';

describe('canonical JSON (what signatures are computed over)', () => {
  it('is the plain recursive writer for any JSON value, index-like keys included', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(written(value));
        // And it is JSON that reads back as the same value.
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 300) },
    );
  });

  it('sorts keys by UTF-16 code units at every level, arrays kept in order', () => {
    expect(canonicalJson({ b: 1, a: [{ z: 1, y: 2 }, 3], é: null, Z: true })).toBe('{"Z":true,"a":[{"y":2,"z":1},3],"b":1,"é":null}');
    expect(canonicalJson({ 10: 'x', 2: 'y', a: 1 })).toBe('{"10":"x","2":"y","a":1}');
    // A key named __proto__ is covered like any other: a signature must not ignore it.
    expect(canonicalJson(JSON.parse('{"b":1,"__proto__":{"x":2}}'))).toBe('{"__proto__":{"x":2},"b":1}');
  });

  it('refuses a number JSON cannot carry', () => {
    expect(() => canonicalJson({ amount: Number.NaN })).toThrow(/non-finite/);
    expect(() => canonicalJson([Number.POSITIVE_INFINITY])).toThrow(/non-finite/);
  });
});
