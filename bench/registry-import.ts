/**
 * Registry import benchmark: how fast `importRegistry` loads N generated households, on the
 * server back end (PostgreSQL + PostGIS) and the embedded one (PGlite + PostGIS), against the
 * fastest way to get the same bytes into the database (a plain COPY into a 13-text-column table).
 *
 *   npm run bench -- registry-import [--households N] [--backend server|embedded|both]
 *
 * See bench/README.md. Results are appended to bench/results/registry-import.md.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command, Option } from 'commander';
import { openStore, type Store } from '../src/db/store.ts';
import { DEMO_COLUMNS } from '../src/demo/households.ts';
import { importRegistry, type RegistryImportReport } from '../src/registry/import-registry.ts';
import {
  adminQuery, appendResults, demoAreas, describeMachine, fmtBytes, fmtInt, fmtMiB, fmtStarted, log, machineLine, psqlCopy,
  root, runsAsScript, sampleMemory, scalar, serverVersion, setUpDemoSchema, sqlQuoted, tracing, wholeNumber, withOther, writeHouseholdsCsv,
  type Machine, type MemorySample, type StatementLabels, type StatementTiming,
} from './lib/support.ts';

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

interface Step {
  name: string;
  rows: number;
  seconds: number;
  memory?: MemorySample;
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
  if (options.save) await appendResults(options.results, RESULTS_PREAMBLE, markdown);
}

// ---------------------------------------------------------------------------------------------
// Generation

async function generateCsv(households: number, seed: number): Promise<Generated> {
  const areas = await demoAreas();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'asp-bench-'));
  const file = path.join(dir, 'households.csv');
  log(`generating ${fmtInt(households)} households over ${areas.length} districts into ${file}`);
  const t0 = performance.now();
  await writeHouseholdsCsv(file, areas, households, seed);
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
      return psqlCopy(benchUrl, BENCH_DB, `\\copy plain_households FROM ${sqlQuoted(csv.file)} WITH (FORMAT csv, HEADER true)`);
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
  await setUpDemoSchema(store);
  const seconds = (performance.now() - t0) / 1000;
  log(`${backend}: migrated, areas and programmes loaded in ${seconds.toFixed(1)} s`);
  return seconds;
}

function householdsSize(store: Store): Promise<number> {
  return scalar(store, `SELECT pg_total_relation_size('households')::bigint AS n`);
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
  const slow = (label: string, ms: number) => {
    if (ms > 2000) log(`${backend}:   ${label}: ${(ms / 1000).toFixed(1)} s (at ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  };
  const memory = sampleMemory();
  const report = await importRegistry(tracing(store, statements, STATEMENT_LABELS, slow), csv.file, { onProgress });
  const seconds = (performance.now() - t0) / 1000;
  const step: Step = { name, rows: report.rows, seconds, memory: memory.stop(), report, statements: withOther([...statements.values()], seconds) };
  log(
    `${backend}: ${name}: ${seconds.toFixed(1)} s, ${fmtInt(report.rows / seconds)} rows/s ` +
      `(inserted ${fmtInt(report.inserted)}, updated ${fmtInt(report.updated)}, rejected ${report.rejected}, enrolled ${fmtInt(report.enrolled)})`,
  );
  if (report.rows !== csv.rows || report.rejected !== 0) {
    log(`${backend}: WARNING: expected ${fmtInt(csv.rows)} rows and no rejects`);
  }
  return step;
}

/** Known statements of importRegistry get a readable name; anything else its first words. */
const STATEMENT_LABELS: StatementLabels = [
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

// ---------------------------------------------------------------------------------------------
// Reporting

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
    rss: s.memory ? `${fmtMiB(s.memory.rssBefore)} → ${fmtMiB(s.memory.rssPeak)}` : '',
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
  out.push(`## ${fmtStarted(started)}: ${fmtInt(options.households)} households, ${backends}`, '');
  out.push(
    machineLine(machine),
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

// Also runnable on its own: `npx tsx bench/registry-import.ts --households 10000`.
if (runsAsScript(import.meta.url)) {
  await main(process.argv.slice(2));
}
