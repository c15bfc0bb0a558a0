import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemo } from '../../src/demo/load-demo.ts';
import { registryCounts } from '../../src/registry/counts.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { kenyaAdm1, kenyaAdm2 } from '../support/paths.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

describe('loading the demo', () => {
  it('loads Demoland, programmes and households; loading again adds no duplicates', async () => {
    const first = await loadDemo(t.store, { households: 3000, seed: 1 });
    expect(first.areas.map((a) => [a.level, a.features])).toEqual([[1, 4], [2, 24]]);
    const counts = await registryCounts(t.store);
    expect(counts).toMatchObject({ areas: 28, households: 3000, programmes: 2 });
    expect(counts.enrolments).toBeGreaterThan(600);

    const second = await loadDemo(t.store, { households: 3000, seed: 1 });
    expect(second.registry).toMatchObject({ inserted: 0, updated: 0, unchanged: 3000 });
    expect(await registryCounts(t.store)).toEqual(counts);
  });

  it('accepts real boundaries: households over Kenya sub-counties, each inside its own', async () => {
    const report = await loadDemo(t.store, { areaFiles: [kenyaAdm1, kenyaAdm2], households: 2000, seed: 3 });
    expect(report.areas.map((a) => [a.level, a.features])).toEqual([[1, 47], [2, 290]]);
    const { rows } = await t.store.transaction(({ raw }) =>
      raw.query<{ total: number; inside: number }>(`
        SELECT count(*)::int AS total,
               count(*) FILTER (WHERE ST_Intersects(a.geom, h.location))::int AS inside
          FROM households h JOIN admin_areas a ON a.pcode = h.admin_pcode
         WHERE h.admin_pcode LIKE 'KE%'`),
    );
    expect(rows[0]).toEqual({ total: 2000, inside: 2000 });
  });
});
