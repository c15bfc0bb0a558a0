import { booleanPointInPolygon } from '@turf/turf';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { demoDistricts } from '../../src/demo/geography.ts';
import { demoHouseholdsCsv, type DemoArea } from '../../src/demo/households.ts';
import type { Polygon } from 'geojson';

const areas: DemoArea[] = demoDistricts().features.map((f) => ({
  pcode: String(f.properties?.ADM2_PCODE),
  geometry: f.geometry as Polygon,
  weight: 1,
}));
const codes = { cashTransfer: 'CT', olderPersons: 'OPG' };
const generate = (count: number, seed: number) => [...demoHouseholdsCsv(areas, count, seed, codes)].join('');

describe('the demo household generator', () => {
  const text = generate(5000, 7);
  const rows = parse(text, { columns: true }) as Record<string, string>[];

  it('is deterministic: the same seed gives the same bytes, another seed other households', () => {
    expect(generate(5000, 7)).toBe(text);
    expect(generate(5000, 8)).not.toBe(text);
  });

  it('places every household inside the area it names', () => {
    const byPcode = new Map(areas.map((a) => [a.pcode, a.geometry]));
    const outside = rows.filter((r) => !booleanPointInPolygon([Number(r.lon), Number(r.lat)], byPcode.get(r.admin_pcode)!));
    expect(rows).toHaveLength(5000);
    expect(outside).toEqual([]);
    expect(new Set(rows.map((r) => r.admin_pcode)).size).toBe(24);
  });

  it('has realistic sizes and enrols about a quarter in the cash transfer, mostly the poorest', () => {
    const sizes = rows.map((r) => Number(r.size));
    const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
    expect(mean).toBeGreaterThan(3.5);
    expect(mean).toBeLessThan(5);
    expect(Math.min(...sizes)).toBe(1);
    const ct = rows.filter((r) => r.programmes.split(';').includes('CT'));
    const opg = rows.filter((r) => r.programmes.split(';').includes('OPG'));
    expect(ct.length / rows.length).toBeGreaterThan(0.2);
    expect(ct.length / rows.length).toBeLessThan(0.3);
    expect(opg.length).toBeGreaterThan(0);
    const meanPmt = (list: Record<string, string>[]) => list.reduce((a, r) => a + Number(r.pmt_score), 0) / list.length;
    expect(meanPmt(ct)).toBeLessThan(meanPmt(rows) - 5);
    expect(opg.every((r) => Number(r.head_age) >= 70)).toBe(true);
  });

  it('gives every head what receivers need: names, a birth date that matches the age, an id and a phone', () => {
    for (const r of rows) {
      expect(r.head_first_name).toMatch(/^[A-Z][a-z]+$/);
      expect(r.head_last_name).toMatch(/^[A-Z][a-z]+$/);
      // Aged head_age on 2026-06-30: born within the year before that birthday.
      const born = new Date(`${r.head_birth_date}T00:00:00Z`);
      const birthday = Date.UTC(2026 - Number(r.head_age), 5, 30);
      expect(birthday - born.getTime()).toBeGreaterThanOrEqual(0);
      expect(birthday - born.getTime()).toBeLessThan(366 * 86_400_000);
      expect(r.national_id).toMatch(/^\d{8}$/);
      expect(r.phone).toMatch(/^07\d{8}$/);
      if (r.payment_channel !== 'cash') expect(r.phone).toBe(r.payment_account);
    }
    expect(new Set(rows.map((r) => r.national_id)).size).toBeGreaterThan(rows.length * 0.99);
  });
});
