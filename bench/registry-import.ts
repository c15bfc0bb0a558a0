/**
 * Registry import benchmark: how fast `importRegistry` loads N generated households, on the
 * server back end (PostgreSQL + PostGIS) and the embedded one (PGlite + PostGIS), against the
 * fastest way to get the same bytes into the database (a plain COPY into a 13-text-column table).
 *
 *   npm run bench -- registry-import [--households N] [--backend server|embedded|both]
 *
 * See bench/README.md. Results are appended to bench/results/registry-import.md.
 */
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import pg from 'pg';
import { importAreas } from '../src/areas/import-areas.ts';
import type { RawConnection } from '../src/db/raw.ts';
import { migrate } from '../src/db/migrate.ts';
import { openStore, type Store } from '../src/db/store.ts';
import { DEMO_COLUMNS, demoHouseholdsCsv, type DemoArea } from '../src/demo/households.ts';
import { DEMO_PROGRAMMES } from '../src/demo/load-demo.ts';
import { importRegistry, type RegistryImportReport } from '../src/registry/import-registry.ts';
import { upsertProgramme } from '../src/registry/programmes.ts';

const execFileAsync = promisify(execFile);
const root = fileURLToPath(new URL('../', import.meta.url));
const ADM1 = path.join(root, 'data/demo/demoland-adm1.geojson');
const ADM2 = path.join(root, 'data/demo/demoland-adm2.geojson');
const BENCH_DB = 'asp_bench';
const PLAIN_TABLE = `CREATE TABLE plain_households (${DEMO_COLUMNS.map((c) => `${c} text`).join(', ')})`;

type BackendName = 'server' | 'embedded';

interface Options {
  households: number;
  backend: 'server' | 'embedded' | 'both';
  adminUrl: string;
  seed: number;
  results: string;
  save: boolean;
  note?: string;
}

interface Memory {
  /** RSS when the step started. */
  before: number;
  /** Highest RSS sampled (every 100 ms) while the step ran. */
  peak: number;
  /** The process's RSS high-water mark so far (getrusage), which no sampling can miss. */
  maxRss: number;
}

interface StatementTiming {
  label: string;
  calls: number;
  ms: number;
}

interface Step {
  name: string;
  rows: number;
  seconds: number;
  memory?: Memory;
  report?: RegistryImportReport;
  /** Time per SQL statement inside importRegistry, in execution order. */
  statements?: StatementTiming[];
}

interface BackendResult {
  backend: BackendName;
  version: string;
  setupSeconds: number;
  fresh: Step;
  again: Step;
  baseline: Step;
  /** households table + indexes + TOAST after both imports. */
  householdsBytes: number;
}

interface Generated {
  file: string;
  rows: number;
  dir: string;
  bytes: number;
  seconds: number;
}

export async function main(args: string[]): Promise<void> {
  const program = new Command('npm run bench -- registry-import')
    .description('Times importRegistry on N generated households against a plain COPY of the same file.')
    .option('--households <n>', 'households to generate', wholeNumber, 1_000_000)
    .addOption(
      new Option('--backend <which>', 'back end(s) to run').choices(['server', 'embedded', 'both']).default('both'),
    )
    .option('--admin-url <url>', 'PostgreSQL URL of a role that may create databases', 'postgres://postgres@127.0.0.1:5432/postgres')
    .option('--seed <n>', 'seed for the generated households', wholeNumber, 2026)
    .option('--results <file>', 'markdown file the results are appended to', path.join(root, 'bench/results/registry-import.md'))
    .option('--no-save', 'print the results only; do not append them to the results file')
    .option('--note <text>', 'a line of remarks to add to the results');
  program.parse(args, { from: 'user' });
  const options = program.opts<Options>();

  const backends: BackendName[] = options.backend === 'both' ? ['server', 'embedded'] : [options.backend];
  const started = new Date();
  log(`registry-import: ${fmtInt(options.households)} households, back end(s): ${backends.join(', ')}`);

  const csv = await generateCsv(options.households, options.seed);
  const results: BackendResult[] = [];
  try {
    for (const backend of backends) {
      results.push(backend === 'server' ? await runServer(csv, options) : await runEmbedded(csv, options));
    }
  } finally {
    await rm(csv.dir, { recursive: true, force: true });
  }

  const machine = await describeMachine();
  const markdown = renderMarkdown(started, machine, options, csv, results);
  process.stdout.write('\n' + renderText(options, csv, results) + '\n');
  if (options.save) {
    await mkdir(path.dirname(options.results), { recursive: true });
    const exists = await stat(options.results).then(() => true, () => false);
    await appendFile(options.results, (exists ? '\n' : RESULTS_PREAMBLE) + markdown);
    log(`results appended to ${path.relative(process.cwd(), options.results) || options.results}`);
  }
}

function wholeNumber(value: string): number {
  const n = Number(value.replace(/[_,]/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

// ---------------------------------------------------------------------------------------------
// Generation

async function generateCsv(households: number, seed: number): Promise<Generated> {
  const collection = JSON.parse(await readFile(ADM2, 'utf8')) as FeatureCollection;
  const areas: DemoArea[] = collection.features.map((f) => ({
    pcode: String(f.properties?.ADM2_PCODE),
    geometry: f.geometry as Polygon | MultiPolygon,
    weight: 1,
  }));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'asp-bench-'));
  const file = path.join(dir, 'households.csv');
  log(`generating ${fmtInt(households)} households over ${areas.length} districts into ${file}`);
  const t0 = performance.now();
  const lines = demoHouseholdsCsv(areas, households, seed, { cashTransfer: 'CT', olderPersons: 'OPG' });
  await pipeline(Readable.from(lines), createWriteStream(file));
  const seconds = (performance.now() - t0) / 1000;
  const bytes = (await stat(file)).size;
  log(`generated ${fmtBytes(bytes)} in ${seconds.toFixed(1)} s`);
  return { file, rows: households, dir, bytes, seconds };
}

// ---------------------------------------------------------------------------------------------
// Back ends

async function runServer(csv: Generated, options: Options): Promise<BackendResult> {
  const adminUrl = new URL(options.adminUrl);
  const benchUrl = new URL(options.adminUrl);
  benchUrl.pathname = `/${BENCH_DB}`;

  log(`server: (re)creating database ${BENCH_DB}`);
  await adminQuery(adminUrl, [`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`, `CREATE DATABASE ${BENCH_DB}`]);
  let store: Store | undefined;
  try {
    store = await openStore({ url: benchUrl.href });
    const setupSeconds = await setUp(store, 'server');
    const version = await serverVersion(store);
    const fresh = await timeImport(store, csv, 'server', 'importRegistry, fresh (inserts)');
    const again = await timeImport(store, csv, 'server', 'importRegistry, again (upserts)');
    const householdsBytes = await householdsSize(store);

    await store.transaction(({ raw }) => raw.query(PLAIN_TABLE));
    log('server: baseline psql \\copy into plain_households');
    const baseline = await timeStep('psql \\copy into a plain table', async () => {
      const { stdout } = await execFileAsync('psql', psqlArgs(benchUrl, csv.file), { env: psqlEnv(benchUrl) });
      const match = /COPY (\d+)/.exec(stdout);
      if (!match) throw new Error(`psql \\copy printed no row count: ${stdout.trim()}`);
      return Number(match[1]);
    });
    log(`server: baseline ${baseline.seconds.toFixed(1)} s`);
    return { backend: 'server', version, setupSeconds, fresh, again, baseline, householdsBytes };
  } finally {
    await store?.close();
    await adminQuery(adminUrl, [`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`]);
  }
}

async function runEmbedded(csv: Generated, options: Options): Promise<BackendResult> {
  void options;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'asp-bench-pglite-'));
  log(`embedded: PGlite in ${dataDir}`);
  let store: Store | undefined;
  try {
    store = await openStore({ dataDir });
    const setupSeconds = await setUp(store, 'embedded');
    const version = await serverVersion(store);
    const fresh = await timeImport(store, csv, 'embedded', 'importRegistry, fresh (inserts)');
    const again = await timeImport(store, csv, 'embedded', 'importRegistry, again (upserts)');
    const householdsBytes = await householdsSize(store);

    await store.transaction(({ raw }) => raw.query(PLAIN_TABLE));
    log('embedded: baseline COPY into plain_households');
    const opened = store;
    const baseline = await timeStep('COPY FROM STDIN into a plain table', () =>
      opened.transaction(({ raw }) =>
        raw.copyFrom('COPY plain_households FROM STDIN WITH (FORMAT csv, HEADER true)', createReadStream(csv.file)),
      ),
    );
    log(`embedded: baseline ${baseline.seconds.toFixed(1)} s`);
    return { backend: 'embedded', version, setupSeconds, fresh, again, baseline, householdsBytes };
  } finally {
    await store?.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Schema, the two demo boundary levels and the demo programmes; returns the seconds it took. */
async function setUp(store: Store, backend: BackendName): Promise<number> {
  const t0 = performance.now();
  await migrate(store);
  await importAreas(store, ADM1, { level: 1 });
  await importAreas(store, ADM2, { level: 2 });
  for (const programme of DEMO_PROGRAMMES) await upsertProgramme(store, programme);
  const seconds = (performance.now() - t0) / 1000;
  log(`${backend}: migrated, areas and programmes loaded in ${seconds.toFixed(1)} s`);
  return seconds;
}

async function serverVersion(store: Store): Promise<string> {
  const result = await store.transaction(({ raw }) =>
    raw.query<{ pg: string; postgis: string }>(`SELECT split_part(version(), ' on ', 1) AS pg, postgis_lib_version() AS postgis`),
  );
  return `${result.rows[0].pg}, PostGIS ${result.rows[0].postgis}`;
}

async function householdsSize(store: Store): Promise<number> {
  const result = await store.transaction(({ raw }) =>
    raw.query<{ bytes: number }>(`SELECT pg_total_relation_size('households')::bigint AS bytes`),
  );
  return Number(result.rows[0].bytes);
}

async function adminQuery(url: URL, statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url.href, application_name: 'asp-bench' });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

function psqlArgs(url: URL, file: string): string[] {
  const args = ['-X', '-v', 'ON_ERROR_STOP=1'];
  if (url.hostname) args.push('-h', decodeURIComponent(url.hostname));
  if (url.port) args.push('-p', url.port);
  if (url.username) args.push('-U', decodeURIComponent(url.username));
  args.push('-d', BENCH_DB);
  args.push('-c', `\\copy plain_households FROM '${file.replace(/'/g, "''")}' WITH (FORMAT csv, HEADER true)`);
  return args;
}

function psqlEnv(url: URL): NodeJS.ProcessEnv {
  return url.password ? { ...process.env, PGPASSWORD: decodeURIComponent(url.password) } : process.env;
}

// ---------------------------------------------------------------------------------------------
// Timing

async function timeStep(name: string, work: () => Promise<number>): Promise<Step> {
  const memory = sampleMemory();
  const t0 = performance.now();
  const rows = await work();
  const seconds = (performance.now() - t0) / 1000;
  return { name, rows, seconds, memory: memory.stop() };
}

async function timeImport(store: Store, csv: Generated, backend: BackendName, name: string): Promise<Step> {
  log(`${backend}: ${name}`);
  const statements = new Map<string, StatementTiming>();
  const t0 = performance.now();
  let nextTenth = 1;
  const onProgress = (read: number, total: number) => {
    while (read >= (total * nextTenth) / 10 && nextTenth <= 10) {
      log(`${backend}:   staging COPY ${nextTenth * 10}% after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      nextTenth++;
    }
  };
  const memory = sampleMemory();
  const report = await importRegistry(tracing(store, statements, backend, t0), csv.file, { onProgress });
  const seconds = (performance.now() - t0) / 1000;
  const step: Step = { name, rows: report.rows, seconds, memory: memory.stop(), report, statements: [...statements.values()] };
  const accounted = step.statements!.reduce((sum, s) => sum + s.ms, 0);
  step.statements!.push({ label: 'other (BEGIN/COMMIT, Node)', calls: 0, ms: seconds * 1000 - accounted });
  log(
    `${backend}: ${name}: ${seconds.toFixed(1)} s, ${fmtInt(report.rows / seconds)} rows/s ` +
      `(inserted ${fmtInt(report.inserted)}, updated ${fmtInt(report.updated)}, rejected ${report.rejected}, enrolled ${fmtInt(report.enrolled)})`,
  );
  if (report.rows !== csv.rows || report.rejected !== 0) {
    log(`${backend}: WARNING: expected ${fmtInt(csv.rows)} rows and no rejects`);
  }
  return step;
}

/** Samples this process's RSS every 100 ms until stopped. */
function sampleMemory(): { stop(): Memory } {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss);
      return { before, peak, maxRss: process.resourceUsage().maxRSS * 1024 };
    },
  };
}

/**
 * The same store, but every statement run through a transaction's raw connection is timed and
 * filed under a short label, so the result shows where an import spends its time.
 */
function tracing(store: Store, into: Map<string, StatementTiming>, backend: BackendName, t0: number): Store {
  const add = (label: string, ms: number) => {
    const entry = into.get(label) ?? { label, calls: 0, ms: 0 };
    entry.calls++;
    entry.ms += ms;
    into.set(label, entry);
    if (ms > 2000) log(`${backend}:   ${label}: ${(ms / 1000).toFixed(1)} s (at ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  };
  const wrap = (raw: RawConnection): RawConnection => {
    const traced = Object.create(raw) as RawConnection;
    traced.query = (async (sql: string, params?: readonly unknown[]) => {
      const start = performance.now();
      try {
        return await raw.query(sql, params);
      } finally {
        add(statementLabel(sql), performance.now() - start);
      }
    }) as RawConnection['query'];
    traced.copyFrom = async (sql, source) => {
      const start = performance.now();
      try {
        return await raw.copyFrom(sql, source);
      } finally {
        add(statementLabel(sql), performance.now() - start);
      }
    };
    traced.release = () => raw.release();
    return traced;
  };
  const transaction: Store['transaction'] = (work) => store.transaction((tx) => work({ ...tx, raw: wrap(tx.raw) }));
  const traced = Object.create(store) as Store;
  Object.defineProperty(traced, 'transaction', { value: transaction });
  return traced;
}

/** Known statements of importRegistry get a readable name; anything else its first words. */
const STATEMENT_LABELS: [RegExp, string][] = [
  [/CREATE TEMP TABLE registry_import\b/, 'create staging table'],
  [/CREATE TEMP TABLE registry_problems\b/, 'create problems table'],
  [/^\s*COPY registry_import\b/, 'COPY file → staging'],
  [/count\(\*\)::int AS n FROM registry_import/, 'count staged rows'],
  [/LATERAL \(VALUES/, 'check: per-row values'],
  [/unknown P-code/, 'check: unknown P-codes'],
  [/same registry_id/, 'check: duplicate registry_id'],
  [/unknown programme/, 'check: unknown programmes'],
  [/CREATE TEMP TABLE registry_located\b/, 'create located table'],
  [/INSERT INTO registry_located\b/, 'locate points without P-code'],
  [/outside every imported admin area/, 'check: points outside areas'],
  [/CREATE INDEX ON registry_problems/, 'index problems'],
  [/FROM registry_problems ORDER BY/, 'read problems'],
  [/count\(DISTINCT record\)/, 'count rejected'],
  [/INSERT INTO households\b/, 'upsert households'],
  [/CREATE TEMP TABLE registry_enrolments\b/, 'build enrolment list'],
  [/INSERT INTO enrolments\b/, 'upsert enrolments'],
  [/UPDATE enrolments\b/, 'exit unlisted enrolments'],
  [/FROM programmes WHERE code/, 'check --programme'],
];

function statementLabel(sql: string): string {
  for (const [pattern, label] of STATEMENT_LABELS) if (pattern.test(sql)) return label;
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}

// ---------------------------------------------------------------------------------------------
// Reporting

interface Machine {
  cores: number;
  cpu: string;
  memory: number;
  node: string;
  platform: string;
}

async function describeMachine(): Promise<Machine> {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU',
    memory: os.totalmem(),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

const RESULTS_PREAMBLE = `# Registry import benchmark results

Written by \`npm run bench -- registry-import\` (see [../README.md](../README.md)); newest run last.
"vs baseline" is the baseline's time divided by the step's time, i.e. the import's throughput as a
share of a plain COPY of the same file into a 13-text-column table (goal: at least 70 %).
Peak RSS is the Node process's (for the embedded back end that includes PGlite's WASM heap).

`;

interface Row {
  step: string;
  rows: string;
  seconds: string;
  rate: string;
  ratio: string;
  rss: string;
}

function rowsFor(result: BackendResult): Row[] {
  const base = result.baseline.seconds;
  const row = (s: Step, ratio: boolean): Row => ({
    step: s.name,
    rows: fmtInt(s.rows),
    seconds: s.seconds.toFixed(1),
    rate: fmtInt(s.rows / s.seconds),
    ratio: ratio ? `${Math.round((100 * base) / s.seconds)} %` : '100 %',
    rss: s.memory ? `${fmtMiB(s.memory.before)} → ${fmtMiB(s.memory.peak)}` : '',
  });
  return [row(result.fresh, true), row(result.again, true), row(result.baseline, false)];
}

function renderText(options: Options, csv: Generated, results: BackendResult[]): string {
  const lines: string[] = [];
  lines.push(`CSV: ${fmtInt(options.households)} households, ${fmtBytes(csv.bytes)}, generated in ${csv.seconds.toFixed(1)} s`);
  const headers: Row = { step: 'step', rows: 'rows', seconds: 'seconds', rate: 'rows/s', ratio: 'vs baseline', rss: 'Node RSS before → peak' };
  for (const result of results) {
    lines.push('', `${result.backend} (${result.version}); setup ${result.setupSeconds.toFixed(1)} s; households table ${fmtBytes(result.householdsBytes)}`);
    const rows = [headers, ...rowsFor(result)];
    const keys = Object.keys(headers) as (keyof Row)[];
    const widths = keys.map((k) => Math.max(...rows.map((r) => r[k].length)));
    for (const r of rows) {
      lines.push('  ' + keys.map((k, i) => (k === 'step' ? r[k].padEnd(widths[i]) : r[k].padStart(widths[i]))).join('  '));
    }
    lines.push('', '  time per statement inside importRegistry (s):   fresh    again');
    for (const [label, fresh, again] of breakdown(result)) {
      lines.push(`    ${label.padEnd(44)} ${fresh.padStart(8)} ${again.padStart(8)}`);
    }
  }
  return lines.join('\n');
}

function breakdown(result: BackendResult): [string, string, string][] {
  const labels = [...new Set([...(result.fresh.statements ?? []), ...(result.again.statements ?? [])].map((s) => s.label))];
  const other = labels.filter((l) => l.startsWith('other'));
  const ordered = [...labels.filter((l) => !l.startsWith('other')), ...other];
  const seconds = (step: Step, label: string) => {
    const found = step.statements?.find((s) => s.label === label);
    return found ? (found.ms / 1000).toFixed(found.ms < 100 ? 3 : 1) : '';
  };
  return ordered.map((l) => [l, seconds(result.fresh, l), seconds(result.again, l)]);
}

function renderMarkdown(started: Date, machine: Machine, options: Options, csv: Generated, results: BackendResult[]): string {
  const out: string[] = [];
  const backends = results.map((r) => r.backend).join(' + ');
  out.push(`## ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC: ${fmtInt(options.households)} households, ${backends}`, '');
  out.push(
    `- Machine: ${machine.cores} cores (${machine.cpu}), ${fmtBytes(machine.memory)} RAM, ${machine.platform}; Node ${machine.node}`,
    `- CSV: ${fmtInt(options.households)} households (seed ${options.seed}, 24 demo districts), ${fmtBytes(csv.bytes)}, generated in ${csv.seconds.toFixed(1)} s`,
  );
  for (const r of results) {
    out.push(
      `- ${r.backend}: ${r.version}; migrate + areas + programmes ${r.setupSeconds.toFixed(1)} s; ` +
        `households table with indexes after both imports: ${fmtBytes(r.householdsBytes)}`,
    );
  }
  if (options.note) out.push(`- Note: ${options.note}`);
  out.push('', '| back end | step | rows | time (s) | rows/s | vs baseline | Node RSS before → peak |', '|---|---|---:|---:|---:|---:|---:|');
  for (const r of results) {
    for (const row of rowsFor(r)) {
      out.push(`| ${r.backend} | ${row.step.replace(/\\/g, '\\\\')} | ${row.rows} | ${row.seconds} | ${row.rate} | ${row.ratio} | ${row.rss} |`);
    }
  }
  const maxRss = Math.max(...results.flatMap((r) => [r.fresh, r.again, r.baseline].map((s) => s.memory?.maxRss ?? 0)));
  out.push('', `Process RSS high-water mark (getrusage) at the end: ${fmtMiB(maxRss)}.`);
  for (const r of results) {
    out.push('', `Time per statement inside importRegistry, ${r.backend} (s):`, '', '| statement | fresh | again |', '|---|---:|---:|');
    for (const [label, fresh, again] of breakdown(r)) out.push(`| ${label} | ${fresh} | ${again} |`);
  }
  return out.join('\n') + '\n';
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtMiB = (bytes: number) => `${Math.round(bytes / 2 ** 20).toLocaleString('en-US')} MiB`;
function fmtBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}

function log(message: string) {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[${t}] ${message}\n`);
}

// Also runnable on its own: `npx tsx bench/registry-import.ts --households 10000`.
if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  await main(process.argv.slice(2));
}
