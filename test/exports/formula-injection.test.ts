import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportList, type ExportFormat } from '../../src/exports/index.ts';
import { addPartner } from '../../src/lists/partners.ts';
import { reconcileList } from '../../src/lists/reconcile.ts';
import { releaseList } from '../../src/lists/release.ts';
import { importRegistry } from '../../src/registry/import-registry.ts';
import { spreadsheetSafe, unescapeCell } from '../../src/spreadsheet-safe.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { tempFile } from '../support/files.ts';
import { insertHouseholds } from '../support/households.ts';
import { collector, createList, type FixtureList } from './list-fixture.ts';

/**
 * Formula injection (OWASP CSV Injection): registry values that a spreadsheet would run as a
 * formula reach the CSV, HXL and openIMIS exports (the programme's and a partner's) and the
 * registry's rejects file only with a leading ', plain numbers (phones, accounts) untouched; the
 * machine formats keep the values as stored; a partner's file sent back still reconciles.
 */

/** The usual payloads, as testers of CSV injection use them. */
const PAYLOADS = [
  '=HYPERLINK("http://x","click")',
  "=cmd|' /C calc'!A0",
  "+cmd|' /C calc'!A0",
  "-2+3+cmd|' /C calc'!A0",
  "@SUM(1+1)*cmd|' /C calc'!A0",
  '\t=1+1',
  '\r=1+1',
  ' =1+1',
  '  +cmd|x',
  '\uff1d1+1',
];
const PLAIN_NUMBERS = ['+254712345678', '-5.20'];
/** What a spreadsheet would run: a formula character first, or after white space; TAB or CR first. */
const FORMULA_CHARACTERS = ['=', '+', '-', '@', '\uff1d', '\uff0b', '\uff0d', '\uff20'];
const PLAIN_NUMBER = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$/;
const runsAsFormula = (cell: string) =>
  (FORMULA_CHARACTERS.includes(cell.trimStart()[0]) || cell.startsWith('\t') || cell.startsWith('\r')) && !PLAIN_NUMBER.test(cell);

/**
 * The registry ids are payloads too: ids are free text in the registry, and partners send them
 * back. Without leading spaces, which the registry import trims.
 */
const registryIdOf = (payload: string) => payload.replace(/^ +/, '');
const REGISTRY_IDS = PAYLOADS.map(registryIdOf);

let db: TestDatabase;
let list: FixtureList;
const nextYear = `${new Date().getUTCFullYear() + 1}-12-31`;
/** registry id → the values stored for the household, as exports read them. */
const stored = new Map<string, { first: string; last: string; name: string; phone: string; account: string; dob: string }>();
let areaName: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await loadDemoAreas(db.store);
  areaName = PAYLOADS[0];
  await db.store.transaction(({ raw }) => raw.query(`UPDATE admin_areas SET name = $1 WHERE pcode = 'XD01001'`, [areaName]));
  const households = PAYLOADS.map((payload, i) => {
    // The head's names in the registry's columns (migration 0014), as connectors fill them.
    const [first, last] = [PAYLOADS[(i + 1) % PAYLOADS.length], PAYLOADS[(i + 5) % PAYLOADS.length]];
    const values = {
      first, last, name: `${first} ${last}`,
      phone: i % 2 ? PLAIN_NUMBERS[0] : PAYLOADS[(i + 2) % PAYLOADS.length],
      account: i % 2 ? PLAIN_NUMBERS[1] : PAYLOADS[(i + 3) % PAYLOADS.length],
      dob: PAYLOADS[(i + 4) % PAYLOADS.length],
    };
    stored.set(registryIdOf(payload), values);
    return { id: registryIdOf(payload), pcode: 'XD01001', size: 2, channel: '@mobile', account: values.account, attributes: { phone: values.phone, dob: values.dob } };
  });
  const ids = await insertHouseholds(db.store, households);
  await db.store.transaction(async ({ raw }) => {
    for (const [id, v] of stored) {
      await raw.query(`UPDATE households SET head_first_name = $2, head_last_name = $3, head_birth_date = '1980-02-29' WHERE registry_id = $1`, [id, v.first, v.last]);
    }
    await raw.query(`INSERT INTO area_codes (scheme, code, pcode) VALUES ('openimis', 'V-XD01001', 'XD01001')`);
  });
  list = await createList(db.store, REGISTRY_IDS.map((id, i) => ({ householdId: ids.get(id)!, registryId: id, pcode: 'XD01001', amount: 100 + i })));
  await addPartner(db.store, { id: 'fsp', name: 'FSP', role: 'payment_provider', fields: ['pseudonymous_id', 'name', 'phone', 'amount', 'currency', 'payment_channel', 'payment_account'] }, 'alice');
  await addPartner(db.store, { id: 'bank', name: 'Bank', role: 'payment_provider', fields: ['registry_id', 'name', 'birth_date', 'phone', 'admin_pcode', 'amount', 'currency', 'payment_account'], pseudonymise: false }, 'alice');
  for (const partnerId of ['fsp', 'bank']) {
    await releaseList(db.store, list.listId, { partnerId, purpose: `DSA with ${partnerId}`, expiresOn: nextYear }, 'carol');
  }
}, 120_000);

afterAll(async () => {
  await db?.drop();
});

async function exported(format: ExportFormat, partnerId?: string): Promise<string> {
  const sink = collector();
  await exportList(db.store, list.listId, format, sink.out, { partnerId }, 'dora');
  return sink.text();
}

/** The data rows of a tabular export as objects by column name (HXL: the hashtag row skipped). */
function rowsOf(format: ExportFormat, text: string): Record<string, string>[] {
  const [header, ...rest] = parse(text, { relax_column_count: false }) as string[][];
  const rows = format === 'hxl' ? rest.slice(1) : rest;
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

describe('spreadsheetSafe', () => {
  it('prefixes every usual payload and leaves plain numbers and ordinary text alone', () => {
    for (const payload of PAYLOADS) expect(spreadsheetSafe(payload)).toBe(`'${payload}`);
    for (const number of [...PLAIN_NUMBERS, '42', '-0711000001', '3.']) expect(spreadsheetSafe(number)).toBe(number);
    for (const text of ['Amina Hassan', 'KES', '', 'a=b', "O'Brien"]) expect(spreadsheetSafe(text)).toBe(text);
    expect(spreadsheetSafe("'=1+1")).toBe("''=1+1");
  });

  it('for any text: the cell never runs as a formula unless it is a plain number, and dropping our prefix gives the text back', () => {
    const formulaish = fc.stringMatching(/^[\s=+\-@'\t\r0-9.a-z|(]{0,12}$/);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), formulaish), (text) => {
        const cell = spreadsheetSafe(text);
        expect(runsAsFormula(cell)).toBe(false);
        expect(unescapeCell(cell)).toBe(text);
        if (PLAIN_NUMBER.test(text)) expect(cell).toBe(text);
      }),
      { seed: Number(process.env.FC_SEED ?? 20261207), numRuns: 5000 },
    );
  });
});

describe('exports', () => {
  const tabular: [ExportFormat, string | undefined][] = [
    ['csv', undefined], ['hxl', undefined], ['openimis', undefined],
    // fsp is pseudonymised: no openimis (it needs names), and no names in the others.
    ['csv', 'fsp'], ['hxl', 'fsp'], ['csv', 'bank'], ['hxl', 'bank'], ['openimis', 'bank'],
  ];
  for (const [format, partnerId] of tabular) {
    it(`${format}${partnerId ? ` for partner ${partnerId}` : ' of the programme'}: no cell runs as a formula, and each reads back as stored`, async () => {
      const text = await exported(format, partnerId);
      const cells = (parse(text) as string[][]).flat();
      expect(cells.filter(runsAsFormula)).toEqual([]);
      const rows = rowsOf(format, text);
      expect(rows).toHaveLength(PAYLOADS.length);
      // The stored values come back once our ' is dropped: nothing else was changed.
      const seen = rows.map((r) => {
        const name = format === 'openimis' ? `${unescapeCell(r.first_name)} ${unescapeCell(r.last_name)}` : r.name === undefined ? undefined : unescapeCell(r.name);
        return { name, phone: unescapeCell(r.phone), account: unescapeCell(r.payment_account) };
      });
      const household = (id: string) => stored.get(id)!;
      const expected = [...stored.values()].map((v) => ({ name: partnerId === 'fsp' ? undefined : v.name, phone: v.phone, account: v.account }));
      expect(seen).toEqual(expect.arrayContaining(expected));
      if (partnerId !== 'fsp') {
        const ids = rows.map((r) => unescapeCell(format === 'openimis' ? r.id : r.registry_id));
        expect(ids.sort()).toEqual([...REGISTRY_IDS].sort());
        expect(ids.every((id) => household(id) !== undefined)).toBe(true);
      }
      // Phone numbers and accounts that are plain numbers are exported exactly as stored.
      const phones = rows.map((r) => r.phone);
      const accounts = rows.map((r) => r.payment_account);
      expect(phones).toContain(PLAIN_NUMBERS[0]);
      expect(accounts).toContain(PLAIN_NUMBERS[1]);
      if (format === 'openimis' && partnerId !== 'fsp') expect(rows.map((r) => r.location_name)).toContain(`'${areaName}`);
      if (format !== 'openimis' && partnerId !== 'bank') expect(rows.map((r) => r.payment_channel)).toContain("'@mobile");
    });
  }

  it('json (a machine format) keeps the stored values as they are', async () => {
    const doc = JSON.parse(await exported('json'));
    const names = doc.entries.map((e: { name: string }) => e.name);
    expect(names.sort()).toEqual([...stored.values()].map((v) => v.name).sort());
    expect(doc.entries.map((e: { registry_id: string }) => e.registry_id).sort()).toEqual([...REGISTRY_IDS].sort());
  });

  it('the content hash in an export is the list’s, over the stored values', async () => {
    const rows = rowsOf('csv', await exported('csv'));
    expect(new Set(rows.map((r) => r.content_sha256))).toEqual(new Set([list.contentSha256]));
  });
});

describe('reconciliation of a file that went through the escaping', () => {
  it('matches the registry ids a partner sends back with our prefix (and without it, as a spreadsheet saves them)', async () => {
    const rows = rowsOf('csv', await exported('csv', 'bank'));
    expect(rows.filter((r) => r.registry_id.startsWith("'"))).toHaveLength(PAYLOADS.length);
    // Half as our file has them, half as a spreadsheet saves them (without the ').
    const lines = rows.map((r, i) => [i % 2 ? r.registry_id : unescapeCell(r.registry_id), 'paid', r.amount]);
    const csv = ['registry_id,status,amount', ...lines.map((l) => l.map((c) => `"${c.replace(/"/g, '""')}"`).join(','))].join('\n') + '\n';
    const report = await reconcileList(db.store, list.listId, await tempFile('bank-paid.csv', csv), 'finance', { partnerId: 'bank' });
    expect(report).toMatchObject({ rows: PAYLOADS.length, paid: PAYLOADS.length, failed: 0 });
  });

  it('refuses one household named twice, once with our prefix and once without, as the same id twice', async () => {
    const id = REGISTRY_IDS[0];
    const csv = `registry_id,status,amount\n"'${id.replace(/"/g, '""')}",paid,100\n"${id.replace(/"/g, '""')}",paid,100\n`;
    const error = await reconcileList(db.store, list.listId, await tempFile('twice.csv', csv), 'finance', { partnerId: 'bank' }).catch((e) => e);
    expect(error.details).toEqual([expect.stringMatching(/: line 3, column registry_id: the same id is already on line 2$/)]);
  });
});

describe('the registry rejects file', () => {
  it('holds the refused rows with every formula-like cell (and column name) prefixed', async () => {
    const header = `registry_id,admin_pcode,size,name,phone,payment_account,${'"=HYPERLINK(""http://x"",""c"")"'}`;
    const quote = (c: string) => `"${c.replace(/"/g, '""')}"`;
    const lines = PAYLOADS.map((p, i) => [p, 'XD01001', 'not-a-size', p, i % 2 ? PLAIN_NUMBERS[0] : p, PLAIN_NUMBERS[1], p].map(quote).join(','));
    const file = await tempFile('hostile.csv', [header, ...lines].join('\n') + '\n');
    const rejectsFile = `${file}.rejects.csv`;
    const report = await importRegistry(db.store, file, { skipInvalid: true, rejectsFile });
    expect(report.rejected).toBe(PAYLOADS.length);
    const [columns, ...rows] = parse(await readFile(rejectsFile, 'utf8')) as string[][];
    expect(columns).toEqual(['line', 'problems', 'registry_id', 'admin_pcode', 'size', 'name', 'phone', 'payment_account', `'=HYPERLINK("http://x","c")`]);
    expect([columns, ...rows].flat().filter(runsAsFormula)).toEqual([]);
    const column = (name: string) => rows.map((r) => r[columns.indexOf(name)]);
    expect(column('registry_id').map(unescapeCell)).toEqual(PAYLOADS);
    expect(column('name').every((c) => c.startsWith("'"))).toBe(true);
    expect(column('phone')).toContain(PLAIN_NUMBERS[0]);
    expect(new Set(column('payment_account'))).toEqual(new Set([PLAIN_NUMBERS[1]]));
  });
});
