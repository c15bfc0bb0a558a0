import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { log } from '../../src/log.ts';
import { importAreaCodes } from '../../src/areas/area-codes.ts';
import { openStore, type Store } from '../../src/db/store.ts';
import type { DciSender } from '../../src/registry/dci/messages.ts';
import { startPull } from '../../src/registry/pulls.ts';
import { loadRegistriesConfig, type ConfiguredRegistry } from '../../src/registry/registries-config.ts';
import { registryStatus } from '../../src/registry/registry-status.ts';
import { startScheduler, type Scheduler } from '../../src/scheduler/scheduler.ts';
import type { DciPeer } from '../peers/dci-registry.ts';
import { startOpenImisPeer, type OpenImisPeer } from '../peers/openimis-graphql.ts';
import { runAspOn } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { loadDemoAreas } from '../support/demo-areas.ts';
import { tempFile } from '../support/files.ts';
import { contract } from '../support/specs.ts';
import { districtPcodes, peerAndRegistry, testSender } from './dci-support.ts';

/**
 * Registries configured in a file and pulled by the scheduler, as feeds are: a DCI registry (the
 * DCI peer) and an openIMIS one (the openIMIS peer). The schedules never fire during the test
 * (03:00 on 1 January) except in the one test of the cron itself: the other runs happen through
 * `pullRegistries()`, as on a tick.
 */

const DCI_HOUSEHOLDS = 2000;
const OI_HOUSEHOLDS = 500;
const PASSWORD = 'sched-pw-Qx81!imis';
let t: TestDatabase;
let dci: DciPeer;
let imis: OpenImisPeer;
let sender: DciSender;
let configFile: string;
let registries: ConfiguredRegistry[];
const social = contract('social');

const imisEntry = (name: string, schedule: string, more: string[]) => [
  `  - name: ${name}`, '    kind: openimis', `    url: ${imis.url}`, `    benefit_plan: ${imis.benefitPlan}`, '    username: asp', `    schedule: '${schedule}'`,
  ...more.map((line) => `    ${line}`),
];
const configText = (schedule: string) => [
  'registries:',
  '  - name: county-sr',
  '    kind: dci',
  `    url: ${dci.url}`,
  `    receiver_id: ${dci.senderId}`,
  `    jwks: ${dci.url}/.well-known/jwks.json`,
  '    id_type: HouseholdID',
  '    programme: CT',
  `    schedule: '${schedule}'`,
  ...imisEntry('imis-ct', schedule, ['password: { env: SCHED_OPENIMIS_PASSWORD }', 'programme: CT']),
  ...imisEntry('imis-off', schedule, ['enabled: false']),
].join('\n') + '\n';
const NEVER = '0 3 1 1 *';

const schedulerOn = (store: Store, configured = registries): Promise<Scheduler> =>
  startScheduler(store, [], { registries: configured, registryPulls: { sender: async () => sender } });
async function pullOnce(store: Store = t.store) {
  const scheduler = await schedulerOn(store);
  try {
    return await scheduler.pullRegistries();
  } finally {
    await scheduler.stop();
  }
}
const pulls = (registry: string) =>
  t.store.db.selectFrom('registry_pulls').select(['id', 'mode', 'status', 'since', 'cursor', 'counts', 'error', 'actor']).where('registry', '=', registry).orderBy('id').execute();
const updatedAt = async () =>
  // To the microsecond, as stored: a Date's string keeps only seconds, and a fast delta can come in the same second.
  new Map(
    (await t.store.db.selectFrom('households').select(['registry_id', sql<string>`to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US')`.as('at')]).execute()).map((h) => [h.registry_id, h.at]),
  );

// Every line the pulls log in this process, to scan for personal data and secrets.
const logged: unknown[] = [];
beforeAll(async () => {
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) {
    const original = log[level].bind(log) as (...args: unknown[]) => void;
    vi.spyOn(log, level).mockImplementation(((...args: unknown[]) => {
      logged.push(args);
      original(...args);
    }) as never);
  }
  t = await createTestDatabase();
  await loadDemoAreas(t.store);
  const pcodes = await districtPcodes(t.store);
  const keys = await testSender();
  sender = keys.sender;
  ({ peer: dci } = await peerAndRegistry(keys.ring, { households: DCI_HOUSEHOLDS, pcodes }));
  imis = await startOpenImisPeer({ households: OI_HOUSEHOLDS, seed: 11, users: { asp: PASSWORD } });
  process.env.SCHED_OPENIMIS_PASSWORD = PASSWORD;
  // The openIMIS peer's districts ↦ Demoland's, as a user loads them (asp areas codes).
  const codes = pcodes.map((pcode, i) => `openimis,D${String(i + 1).padStart(7, '0')},${pcode}`);
  await importAreaCodes(t.store, await tempFile('sched-openimis-codes.csv', ['scheme,code,pcode', ...codes].join('\n') + '\n'));
  configFile = await tempFile('registries.yaml', configText(NEVER));
  registries = await loadRegistriesConfig(configFile);
});
afterAll(async () => {
  delete process.env.SCHED_OPENIMIS_PASSWORD;
  await dci?.close();
  await imis?.close();
  await t?.drop();
});

describe('registries pulled by the scheduler', () => {
  it('pulls each enabled registry in full the first time, recorded under its configured name', async () => {
    const outcomes = await pullOnce();
    expect(outcomes.map((o) => [o.registry, o.kind, o.status, o.mode, o.counts.inserted])).toEqual([
      ['county-sr', 'dci', 'success', 'full', DCI_HOUSEHOLDS],
      ['imis-ct', 'openimis', 'success', 'full', OI_HOUSEHOLDS],
    ]);
    const households = await t.store.db.selectFrom('households').select('id').execute();
    expect(households).toHaveLength(DCI_HOUSEHOLDS + OI_HOUSEHOLDS);
    expect(await pulls('county-sr')).toMatchObject([{ mode: 'full', status: 'success', actor: 'scheduler' }]);
    expect(await pulls('imis-ct')).toMatchObject([{ mode: 'full', status: 'success', actor: 'scheduler' }]);
    expect(await pulls('imis-off')).toEqual([]);
    for (const { path, body } of dci.received) expect(social.request(path, body)).toEqual([]);
  });

  it('then pulls a delta from the last cursor that touches only the households changed in each registry', async () => {
    const before = await updatedAt();
    const dciChanged = [5, 400, 1999];
    dci.touch(dciChanged);
    const imisChanged = imis.changeHouseholds([7, 250]);
    const sent = dci.received.length;
    const outcomes = await pullOnce();
    expect(outcomes.map((o) => [o.registry, o.status, o.mode, o.counts.updated, o.counts.inserted])).toEqual([
      ['county-sr', 'success', 'delta', 3, 0],
      ['imis-ct', 'success', 'delta', 2, 0],
    ]);
    // One page asked of the DCI registry, with the cursor of the first pull as its since.
    expect(dci.received.length - sent).toBe(1);
    const [first, second] = await pulls('county-sr');
    expect(second.since).toEqual(first.cursor);
    for (const { path, body } of dci.received.slice(sent)) expect(social.request(path, body)).toEqual([]);
    const after = await updatedAt();
    const touched = [...after].filter(([id, at]) => before.get(id) !== at).map(([id]) => id).sort();
    expect(touched).toEqual([...dciChanged.map((i) => dci.csvRow(i)[0]), ...imisChanged].sort());
  });

  it('never pulls a registry twice at once: overlapping ticks share one pull, and of two schedulers on one database only the leader pulls', async () => {
    const dciBefore = dci.received.length;
    const scheduler = await schedulerOn(t.store);
    try {
      const [a, b] = await Promise.all([scheduler.pullRegistries(), scheduler.pullRegistries()]);
      expect(a).toEqual(b);
    } finally {
      await scheduler.stop();
    }
    expect(dci.received.length - dciBefore).toBe(1);
    expect((await pulls('county-sr')).length).toBe(3);
    expect((await pulls('imis-ct')).length).toBe(3);
    if (t.store.backend === 'embedded') return; // one process per embedded database: one scheduler by construction
    const other = await openStore({ url: t.env.DATABASE_URL });
    try {
      const [one, two] = await Promise.all([schedulerOn(t.store), schedulerOn(other)]);
      const [pulledByOne, pulledByTwo] = await Promise.all([one.pullRegistries(), two.pullRegistries()]);
      expect([pulledByOne.length, pulledByTwo.length].sort()).toEqual([0, 2]);
      // The leader keeps the lead; when it stops, the other takes over.
      const [leader, follower] = pulledByOne.length === 2 ? [one, two] : [two, one];
      expect(await follower.pullRegistries()).toEqual([]);
      await leader.stop();
      expect((await follower.pullRegistries()).map((o) => o.status)).toEqual(['success', 'success']);
      await follower.stop();
    } finally {
      await other.close();
    }
    expect((await pulls('county-sr')).length).toBe(5);
  });

  it('records a failed pull as failed, keeps the cursor, and the next run retries from it', async () => {
    const cursorBefore = (await pulls('county-sr')).at(-1)!.cursor;
    dci.failPage('any', 401, 1);
    process.env.SCHED_OPENIMIS_PASSWORD = 'not-the-password';
    const changed = imis.changeHouseholds([31]);
    const failed = await pullOnce();
    expect(failed.map((o) => [o.registry, o.status])).toEqual([['county-sr', 'failed'], ['imis-ct', 'failed']]);
    expect(failed[0].error).toMatch(/HTTP 401/);
    expect(failed[1].error).toMatch(/tokenAuth refused the user asp/);
    expect(failed[1].error).not.toContain('not-the-password');
    expect((await pulls('county-sr')).at(-1)).toMatchObject({ status: 'failed', since: cursorBefore, cursor: null });
    expect((await pulls('imis-ct')).at(-1)).toMatchObject({ status: 'failed', cursor: null, mode: 'delta' });
    const status = await registryStatus(t.store, registries);
    expect(status.map((s) => [s.name, s.lastPull?.status, s.consecutiveFailures])).toEqual([
      ['county-sr', 'failed', 1], ['imis-ct', 'failed', 1], ['imis-off', undefined, 0],
    ]);

    process.env.SCHED_OPENIMIS_PASSWORD = PASSWORD;
    const before = await updatedAt();
    const retried = await pullOnce();
    expect(retried.map((o) => [o.registry, o.status, o.mode])).toEqual([['county-sr', 'success', 'delta'], ['imis-ct', 'success', 'delta']]);
    expect((await pulls('county-sr')).at(-1)).toMatchObject({ status: 'success', since: cursorBefore });
    // The household changed while the pulls failed comes in on the retry.
    const after = await updatedAt();
    expect([...after].filter(([id, at]) => before.get(id) !== at).map(([id]) => id)).toEqual(changed);
    expect((await registryStatus(t.store, registries)).map((s) => s.consecutiveFailures)).toEqual([0, 0, 0]);
  });

  it('a scheduled pull a dead leader left running is marked failed, interrupted, by the next leader; a command still pulling is left alone', async () => {
    const killed = await startPull(t.store, { registry: 'county-sr', kind: 'dci', url: dci.url, mode: 'full', since: null, actor: 'scheduler' });
    const command = await startPull(t.store, { registry: 'by-hand', kind: 'dci', url: dci.url, mode: 'full', since: null, actor: 'cli' });
    expect((await pullOnce()).map((o) => o.status)).toEqual(['success', 'success']);
    const rows = await t.store.db.selectFrom('registry_pulls').select(['id', 'status', 'error']).where('id', 'in', [killed, command]).orderBy('id').execute();
    expect(rows.map((r) => ({ ...r, id: Number(r.id) }))).toEqual([
      { id: killed, status: 'failed', error: 'interrupted: the process running it ended before it finished' },
      { id: command, status: 'running', error: null },
    ]);
  });

  it('pulls on the cron schedule itself', { timeout: 30_000 }, async () => {
    const everySecond = await loadRegistriesConfig(await tempFile('registries-every-second.yaml', configText('* * * * * *')));
    const count = async () => (await pulls('county-sr')).length + (await pulls('imis-ct')).length;
    const before = await count();
    const scheduler = await schedulerOn(t.store, everySecond);
    try {
      const deadline = Date.now() + 20_000;
      while ((await count()) < before + 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      await scheduler.stop();
    }
    expect(await count()).toBeGreaterThanOrEqual(before + 2);
    expect((await pulls('imis-off')).length).toBe(0);
  });

  it('asp registry status shows each configured registry: kind, schedule, last pull, cursor, last error', async () => {
    const result = await runAspOn(t, ['registry', 'status', '--config', configFile]);
    expect(result.stderr).toBe('');
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    const last = (await pulls('county-sr')).at(-1)!;
    expect(lines[0]).toMatch(new RegExp(`^county-sr \\(dci\\) · schedule 0 3 1 1 \\* · last pull #${last.id} \\S+ delta success \\(.*\\) · cursor ${new Date(last.cursor!).toISOString()} · last error \\S+: interrupted`));
    expect(lines[1]).toMatch(/^imis-ct \(openimis\) · schedule 0 3 1 1 \* · last pull #\d+ \S+ delta success .* · last error \S+: .*tokenAuth refused/);
    expect(lines[2]).toBe('imis-off (openimis, disabled) · schedule 0 3 1 1 * · never pulled · cursor none (next pull is full) · ok');
    const json = JSON.parse((await runAspOn(t, ['--json', 'registry', 'status', '--config', configFile])).stdout);
    expect(json.map((s: { name: string; kind: string; lastPull: { status: string } | null }) => [s.name, s.kind, s.lastPull?.status ?? null]))
      .toEqual([['county-sr', 'dci', 'success'], ['imis-ct', 'openimis', 'success'], ['imis-off', 'openimis', null]]);
  });

  it('asp registry pull openimis --registry NAME reads the configured registry, flags over it', async () => {
    const changed = imis.changeHouseholds([99, 100, 101]);
    const result = await runAspOn(t, ['--json', 'registry', 'pull', 'openimis', '--registry', 'imis-ct', '--config', configFile, '--page-size', '2']);
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout);
    // A delta under the registry's name (its cursor), in pages of 2 as the flag says, not 100 as the default.
    expect(report).toMatchObject({ mode: 'delta', updated: changed.length, inserted: 0 });
    expect(report.stats.pages).toBeGreaterThanOrEqual(2);
    expect((await pulls('imis-ct')).at(-1)).toMatchObject({ status: 'success', mode: 'delta', actor: 'cli' });
  });

  it('logs each scheduled pull with its registry and counts, and never a household, a name or a password', () => {
    const text = JSON.stringify(logged);
    expect(text).toContain('scheduled registry pull done');
    expect(text).toContain('scheduled registry pull failed');
    for (const secret of [PASSWORD, 'not-the-password']) expect(text).not.toContain(secret);
    for (let i = 0; i < 50; i++) {
      const [id, , , , , , first, last, , nid, phone] = dci.csvRow(i);
      const head = imis.household(i).head;
      for (const personal of [id, `${first} ${last}`, nid, phone, imis.household(i).code, head && `${head.firstName} ${head.lastName}`]) {
        if (personal) expect(text).not.toContain(personal);
      }
    }
  });
});
