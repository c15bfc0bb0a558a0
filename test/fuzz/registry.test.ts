import { stat } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { importRegistry } from '../../src/registry/import-registry.ts';
import { testBackend } from '../support/backend.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { tempFile } from '../support/files.ts';
import { assertProperty, FC_SEED, fcRuns } from '../lists/oracle/property.ts';
import { mutate, mutationArbitrary, Outcomes } from './mutate.ts';

/**
 * Issue 11, item 10: registry files mutated as a careless export or an attacker would (byte
 * flips, cuts, NUL, thousands of fields on a line, hostile numbers, a year 0000, a runaway quoted
 * field), imported all-or-nothing and with --skip-invalid. Whatever the file: a report whose counts
 * add up, or a UserError (exit 2) and not one household changed. Seeded: FC_SEED / FC_RUNS.
 */

const PCODES = ['XD01001', 'XD01002', 'XD02004', 'XD03002'];
/** A registry file of Demoland households in every canonical column and two extra ones. */
const BASE = Buffer.from([
  'registry_id,admin_pcode,lat,lon,size,pmt_score,programmes,payment_channel,payment_account,village,registered_on',
  ...Array.from({ length: 30 }, (_, i) =>
    [`FZ-${i + 1}`, PCODES[i % 4], '', '', 1 + (i % 7), (12.5 + i * 1.7).toFixed(1), ['CT', 'OPG', 'CT;OPG', ''][i % 4],
      ['mobile_money', 'bank', 'cash'][i % 3], i % 3 === 2 ? '' : `07${String(10000000 + i * 7919)}`, `"Village ${i}, ward ${i % 5}"`,
      `2025-${String(1 + (i % 12)).padStart(2, '0')}-15`].join(',')),
].join('\n') + '\n');

/** What only a registry file can get wrong: a header wider than a table, an id longer than an index entry. */
type RegistryMutation = { kind: 'wide'; columns: number } | { kind: 'long-id'; row: number; length: number };
const registryMutation: fc.Arbitrary<RegistryMutation> = fc.oneof(
  fc.record({ kind: fc.constant('wide' as const), columns: fc.constantFrom(1599, 1600, 1700, 5000) }),
  fc.record({ kind: fc.constant('long-id' as const), row: fc.nat({ max: 29 }), length: fc.constantFrom(1000, 1001, 3000, 10000) }),
);

function mutateRegistry(mutation: RegistryMutation): Buffer {
  const [header, ...rows] = BASE.toString('utf8').trimEnd().split('\n');
  if (mutation.kind === 'wide') {
    const extra = mutation.columns - header.split(',').length;
    return Buffer.from([`${header},${Array.from({ length: extra }, (_, i) => `w${i}`).join(',')}`, ...rows.map((r) => `${r}${',1'.repeat(extra)}`)].join('\n') + '\n');
  }
  // Incompressible, so that the index entry really is as long as the id.
  const id = Array.from({ length: mutation.length }, (_, i) => 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'[(i * 7919 + ((i * i) % 29)) % 32]).join('');
  rows[mutation.row] = rows[mutation.row].replace(/^[^,]+/, id);
  return Buffer.from([header, ...rows].join('\n') + '\n');
}

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
});
afterAll(() => t?.drop());

const counts = async () => {
  const [households] = await t.store.transaction(({ raw }) =>
    raw.query<{ n: number; digest: string }>(`SELECT count(*)::int AS n, md5(coalesce(string_agg(h::text, '|' ORDER BY id), '')) AS digest FROM households h`)).then((r) => r.rows);
  return households;
};

describe('fuzz: mutated registry files through the import', () => {
  it('a report that adds up, or a clear UserError and nothing changed', async () => {
    const outcomes = new Outcomes();
    let counter = 0;
    const runs = fcRuns(100, 40);
    const anyMutation = fc.oneof({ arbitrary: mutationArbitrary, weight: 4 }, { arbitrary: registryMutation, weight: 1 });
    await assertProperty(fc.tuple(anyMutation, fc.boolean()), async ([mutation, skipInvalid]) => {
      const bytes = mutation.kind === 'wide' || mutation.kind === 'long-id' ? mutateRegistry(mutation) : mutate(BASE, mutation, 'csv');
      const file = await tempFile(`fuzz-registry-${counter++}.csv`, bytes);
      const before = await counts();
      let report;
      try {
        report = await importRegistry(t.store, file, { skipInvalid, rejectsFile: `${file}.rejects.csv` });
      } catch (error) {
        expect(error, (error as Error).stack).toBeInstanceOf(UserError);
        const message = [(error as UserError).message, ...(error as UserError).details].join('\n');
        expect(message).not.toMatch(/\n\s+at /);
        expect(await counts(), 'a refused import changes nothing').toEqual(before);
        return outcomes.add('refused with a clear error');
      }
      expect(report.inserted + report.updated + report.unchanged + report.rejected).toBe(report.rows);
      expect((await counts()).n).toBe(before.n + report.inserted);
      if (report.rejectsFile) expect((await stat(report.rejectsFile)).mode & 0o077).toBe(0);
      outcomes.add(report.rejected > 0 ? 'imported, bad rows in the rejects file' : 'imported');
    }, runs, 'fuzz registry');
    console.info(`[fuzz registry] ${runs} cases on ${testBackend()} (FC_SEED=${FC_SEED}): ${outcomes}`);
    expect(outcomes.counts.get('refused with a clear error')).toBeGreaterThan(0);
  }, 600_000);
});
