import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/api/keys.ts';
import { runAsp, startAsp, stopAsp } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { tempFile } from '../support/files.ts';
import { projectRoot } from '../support/paths.ts';

/**
 * No personal data in the logs: one whole flow, at the most verbose level, with every structured
 * line of every process (the CLI commands and an `asp serve`) copied to one file (ASP_LOG_FILE),
 * then scanned for the names, phone numbers, national ids and accounts seeded into the registry.
 * The flow: registry import (a bad file refused, then with its bad row rejected), ingest, evaluation, generation,
 * approval, release, exports, reconciliation (with a failing file), the audit, and API calls
 * including refused ones whose bodies and keys carry those values. What it does not cover: code
 * paths no step here reaches (each suite's own tests run with logs at "warn").
 */

let t: TestDatabase;
const logFile = path.join(os.tmpdir(), `asp-log-scan-${process.pid}-${Date.now()}.log`);
const env = { LOG_LEVEL: 'trace', ASP_LOG_FILE: logFile };

/** Forty households in the drought districts, each with a name, phone, national id and account nobody else has. */
const seeded = Array.from({ length: 40 }, (_, i) => ({
  registryId: `LS-${String(i + 1).padStart(3, '0')}`,
  pcode: `XD0100${1 + (i % 6)}`,
  name: `Zawadi Nyambura Kiplagat${i + 1}`,
  phone: `+2547119${String(i + 1).padStart(5, '0')}`,
  nationalId: `NID${31_740_000 + i}`,
  account: `07339${String(i + 1).padStart(5, '0')}`,
}));
const personalValues = seeded.flatMap((h) => [h.name, h.phone, h.phone.slice(1), `0${h.phone.slice(4)}`, h.nationalId, h.account]);
const csvRow = (h: (typeof seeded)[number], size = '4') => `${h.registryId},${h.pcode},${size},1.5,,mobile_money,${h.account},${h.name},${h.phone},${h.nationalId}`;
const header = 'registry_id,admin_pcode,size,pmt_score,programmes,payment_channel,payment_account,name,phone,national_id';

const asp = async (...args: string[]) => {
  const result = await runAsp([...t.cliArgs, ...args], env);
  return result;
};
const ok = async (...args: string[]) => {
  const result = await asp(...args);
  expect(result.code, `asp ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
};

beforeAll(async () => {
  t = await createTestDatabase();
  await t.store.close();
});
afterAll(async () => {
  await t?.drop();
  await rm(logFile, { force: true });
});

describe('a whole flow at log level trace', () => {
  it('writes no seeded name, phone number, national id or account to any log line', async () => {
    await ok('demo', '--households', '300');
    // A file with a bad row, refused whole (exit 2), then imported with the row rejected.
    const bad = await tempFile('log-scan-bad.csv', [header, ...seeded.map((h, i) => csvRow(h, i === 7 ? h.phone : '4'))].join('\n') + '\n');
    expect((await asp('registry', 'import', bad)).code).toBe(2);
    await ok('registry', 'import', bad, '--skip-invalid');
    await ok('ingest', 'indicators', path.join(projectRoot, 'data/demo/feeds/vci3m-districts.csv'));
    const [activation] = JSON.parse(await ok('--json', 'activations', 'list', '--status', 'open')) as { id: number }[];
    const [list] = JSON.parse(await ok('--json', 'lists', 'generate', String(activation.id), '--by', 'maker', '--cycle', '2026-12')) as { id: number }[];
    const id = String(list.id);
    const { entriesSha256 } = JSON.parse(await ok('--json', 'lists', 'show', id)) as { entriesSha256: string };
    await ok('lists', 'approve', id, '--sha256', entriesSha256, '--by', 'checker');
    await ok('partners', 'add', 'fsp', '--name', 'Mobile money', '--role', 'payment_provider', '--fields', 'pseudonymous_id,name,phone,amount,currency', '--by', 'admin');
    await ok('lists', 'release', id, '--partner', 'fsp', '--purpose', 'log scan', '--expires', '2099-12-31', '--by', 'releaser');
    const exported = await tempFile('log-scan-export.csv', '');
    await ok('lists', 'export', id, '--format', 'csv', '--partner', 'fsp', '--out', exported, '--by', 'exporter');
    // openIMIS needs the heads' birth dates, which these households lack: refused (exit 2), naming them by id.
    expect((await asp('lists', 'export', id, '--format', 'openimis', '--out', `${exported}.openimis`, '--by', 'exporter')).code).toBe(2);
    const rows = parse(await readFile(exported, 'utf8'), { columns: true }) as Record<string, string>[];
    // The names went through the programme's own export (a pseudonymised partner never gets them).
    await ok('lists', 'export', id, '--format', 'csv', '--out', `${exported}.own`, '--by', 'exporter');
    const own = parse(await readFile(`${exported}.own`, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(own.some((r) => seeded.some((h) => r.name === h.name))).toBe(true);

    // A partner's report: the first row's amount is wrong (refused, exit 2), then right with one failure.
    const report = (wrongAmount: boolean) =>
      ['id,status,amount,reason', ...rows.map((r, i) => `${r.pseudonymous_id},${i % 5 === 0 ? 'failed' : 'paid'},${wrongAmount && i === 0 ? '1' : r.amount},${i % 5 === 0 ? `account ${seeded[0].account} of ${seeded[0].name} closed` : ''}`)].join('\n') + '\n';
    expect((await asp('lists', 'reconcile', id, await tempFile('log-scan-wrong.csv', report(true)), '--by', 'finance')).code).toBe(2);
    await ok('lists', 'reconcile', id, await tempFile('log-scan-report.csv', report(false)), '--by', 'finance');
    await ok('lists', 'show', id);
    await ok('audit', 'verify');

    // Keys in this process (each CLI start costs seconds): creating one logs nothing.
    const store = await t.reopen();
    const key = async (role: string, partnerId?: string) => (await createApiKey(store, { role, partnerId, label: `log scan ${role}` }, 'admin')).key;
    const keys = { coordinator: await key('coordinator'), approver: await key('approver'), partner: await key('partner', 'fsp'), admin: await key('admin') };
    await store.close();
    const { child, match } = await startAsp(['serve'], { ...t.env, ...env, PORT: '0' }, /asp-engine is up at (http:\S+)/);
    const base = match[1];
    const statuses: number[] = [];
    const call = async (method: string, route: string, key: string | null, body?: string, type = 'application/json') => {
      const response = await fetch(`${base}${route}`, {
        method, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': type } : {}) }, body,
      });
      await response.arrayBuffer();
      statuses.push(response.status);
    };
    const h = seeded[3];
    try {
      await call('GET', '/api/lists', keys.coordinator);
      await call('GET', `/api/lists/${id}`, keys.partner);
      await call('GET', `/api/lists/${id}/export?format=csv`, keys.partner);
      await call('GET', `/api/lists/${id}/export?format=hxl`, keys.coordinator);
      await call('GET', '/api/audit', keys.admin);
      // Refused: a key that is a phone number, a body naming a household, a broken body, text with a NUL.
      await call('GET', '/api/lists', h.phone);
      await call('POST', `/api/lists/${id}/release`, keys.approver, JSON.stringify({ partnerId: h.nationalId, purpose: h.name, expiresOn: h.phone }));
      await call('POST', '/api/partners', keys.admin, `{"id": "${h.nationalId}", "name": "${h.name}", "role": `);
      await call('POST', `/api/lists/${id}/reconcile`, keys.approver, `id,status,amount,reason\n${h.registryId},failed,1,${h.name} ${h.phone}\u0000\n`, 'text/csv');
      await call('POST', `/api/lists/${id}/reconcile`, keys.approver, `id,status,amount,reason\n${h.phone},paid,10,${h.account}\n`, 'text/csv');
      await call('POST', `/api/declarations`, keys.coordinator, JSON.stringify({ pcode: h.nationalId, declaredBy: h.name }));
      await call('GET', '/api/lists/999999', keys.coordinator);
    } finally {
      expect(await stopAsp(child)).toBe(0);
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5).every((s) => s >= 400)).toBe(true);

    const lines = (await readFile(logFile, 'utf8')).split('\n').filter(Boolean);
    // Every line is structured (JSON), and the scan saw the whole flow: CLI and server, info and errors.
    const parsed = lines.map((line) => JSON.parse(line) as { msg?: string; level: number });
    expect(parsed.length).toBeGreaterThan(20);
    for (const msg of ['payload ingested', 'rules evaluated', 'list released', 'asp-engine is up']) expect(parsed.map((p) => p.msg)).toContain(msg);
    const leaks = lines.flatMap((line, n) => personalValues.filter((value) => line.includes(value)).map((value) => `line ${n + 1}: ${value} in ${line.slice(0, 300)}`));
    expect(leaks).toEqual([]);
    console.info(`log scan: ${lines.length} log lines, ${personalValues.length} seeded personal values, ${leaks.length} found`);
  }, 1_500_000);
});
