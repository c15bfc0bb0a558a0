/**
 * Helpers shared by the database benches (registry-import, lists): the same demo set-up, memory
 * sampling, statement tracing, psql and result-file plumbing and number formatting, kept in one
 * place so that both benches measure and report in exactly the same way.
 *
 * Not a bench itself: it exports no `main`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { InvalidArgumentError } from 'commander';
import type { FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import pg from 'pg';
import { importAreas } from '../../src/areas/import-areas.ts';
import { migrate } from '../../src/db/migrate.ts';
import type { RawConnection } from '../../src/db/raw.ts';
import type { Store } from '../../src/db/store.ts';
import { demoHouseholdsCsv, type DemoArea } from '../../src/demo/households.ts';
import { DEMO_PROGRAMMES } from '../../src/demo/load-demo.ts';
import { upsertProgramme } from '../../src/registry/programmes.ts';

const execFileAsync = promisify(execFile);

/** The repository root (bench results default to files below it). */
export const root = fileURLToPath(new URL('../../', import.meta.url));
const ADM1 = path.join(root, 'data/demo/demoland-adm1.geojson');
const ADM2 = path.join(root, 'data/demo/demoland-adm2.geojson');

// ---------------------------------------------------------------------------------------------
// Command line and progress

/** Commander parser for counts: accepts 1_000_000 and 1,000,000. */
export function wholeNumber(value: string): number {
  const n = Number(value.replace(/[_,]/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

/** Progress goes to stderr with a time of day, so stdout holds only the result table. */
export function log(message: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[${t}] ${message}\n`);
}

/** Whether the module at `moduleUrl` was started directly (`npx tsx bench/NAME.ts`), not through bin/bench.js. */
export function runsAsScript(moduleUrl: string): boolean {
  return Boolean(process.argv[1]) && pathToFileURL(path.resolve(process.argv[1])).href === moduleUrl;
}

// ---------------------------------------------------------------------------------------------
// Demo data and set-up

/** The 24 Demoland districts, equally weighted, as the household generator wants them. */
export async function demoAreas(): Promise<DemoArea[]> {
  const collection = JSON.parse(await readFile(ADM2, 'utf8')) as FeatureCollection;
  return collection.features.map((f) => ({
    pcode: String(f.properties?.ADM2_PCODE),
    geometry: f.geometry as Polygon | MultiPolygon,
    weight: 1,
  }));
}

/** Writes N generated households (CT and OPG beneficiaries marked) as a registry CSV. */
export async function writeHouseholdsCsv(file: string, areas: DemoArea[], households: number, seed: number): Promise<void> {
  const lines = demoHouseholdsCsv(areas, households, seed, { cashTransfer: 'CT', olderPersons: 'OPG' });
  await pipeline(Readable.from(lines), createWriteStream(file));
}

/** Schema, the two demo boundary levels and the demo programmes: what a registry import needs first. */
export async function setUpDemoSchema(store: Store): Promise<void> {
  await migrate(store);
  await importAreas(store, ADM1, { level: 1 });
  await importAreas(store, ADM2, { level: 2 });
  for (const programme of DEMO_PROGRAMMES) await upsertProgramme(store, programme);
}

// ---------------------------------------------------------------------------------------------
// Database helpers

/** Runs statements (CREATE/DROP DATABASE) on the admin URL's own connection, outside any store. */
export async function adminQuery(url: URL, statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url.href, application_name: 'asp-bench' });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

/** The one number a query returns in its column `n`. */
export async function scalar(store: Store, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await store.transaction(({ raw }) => raw.query<{ n: number }>(sql, params));
  return Number(rows[0].n);
}

/** "PostgreSQL 17.x, PostGIS 3.x", for the result header. */
export async function serverVersion(store: Store): Promise<string> {
  const result = await store.transaction(({ raw }) =>
    raw.query<{ pg: string; postgis: string }>(`SELECT split_part(version(), ' on ', 1) AS pg, postgis_lib_version() AS postgis`),
  );
  return `${result.rows[0].pg}, PostGIS ${result.rows[0].postgis}`;
}

/** Runs one psql `\copy` command against `database` on the server of `url`; returns the rows psql reports. */
export async function psqlCopy(url: URL, database: string, command: string): Promise<number> {
  const args = ['-X', '-v', 'ON_ERROR_STOP=1'];
  if (url.hostname) args.push('-h', decodeURIComponent(url.hostname));
  if (url.port) args.push('-p', url.port);
  if (url.username) args.push('-U', decodeURIComponent(url.username));
  args.push('-d', database, '-c', command);
  const env = url.password ? { ...process.env, PGPASSWORD: decodeURIComponent(url.password) } : process.env;
  const { stdout } = await execFileAsync('psql', args, { env, maxBuffer: 1 << 20 });
  const match = /COPY (\d+)/.exec(stdout);
  if (!match) throw new Error(`psql \\copy printed no row count: ${stdout.trim()}`);
  return Number(match[1]);
}

/** VACUUM cannot run inside a transaction: a connection of its own, no BEGIN. */
export async function outsideTransaction(store: Store, sql: string): Promise<void> {
  const raw = await store.connect();
  try {
    await raw.query(sql);
  } finally {
    raw.release();
  }
}

/** A file's SHA-256 in hex, streamed (to compare an export with its baseline byte for byte). */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A file name as a single-quoted SQL/psql literal. */
export const sqlQuoted = (file: string) => `'${file.replace(/'/g, "''")}'`;

// ---------------------------------------------------------------------------------------------
// Memory

export interface MemorySample {
  /** RSS when sampling started. */
  rssBefore: number;
  /** Highest RSS sampled (every 100 ms) until stopped. */
  rssPeak: number;
  heapBefore: number;
  heapPeak: number;
  /** The process's RSS high-water mark so far (getrusage), which no sampling can miss. */
  maxRss: number;
}

/** Samples this process's RSS and V8 heap every 100 ms until stopped. */
export function sampleMemory(): { stop(): MemorySample } {
  const start = process.memoryUsage();
  let rssPeak = start.rss;
  let heapPeak = start.heapUsed;
  const sample = () => {
    const now = process.memoryUsage();
    rssPeak = Math.max(rssPeak, now.rss);
    heapPeak = Math.max(heapPeak, now.heapUsed);
  };
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { rssBefore: start.rss, rssPeak, heapBefore: start.heapUsed, heapPeak, maxRss: process.resourceUsage().maxRSS * 1024 };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Statement tracing

export interface StatementTiming {
  label: string;
  calls: number;
  ms: number;
}

/** Readable names for known statements: the first pattern that matches a statement's SQL names it. */
export type StatementLabels = [RegExp, string][];

/** A statement's label, or its first words when no pattern knows it. */
export function statementLabel(sql: string, labels: StatementLabels): string {
  for (const [pattern, label] of labels) if (pattern.test(sql)) return label;
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}

/**
 * The same store, but every statement run through a transaction's raw connection is timed and
 * filed under a short label in `into`, so the result shows where an engine function spends its
 * time. `onStatement`, if given, sees each statement's label and time as it finishes.
 */
export function tracing(
  store: Store,
  into: Map<string, StatementTiming>,
  labels: StatementLabels,
  onStatement?: (label: string, ms: number) => void,
): Store {
  const add = (sql: string, ms: number) => {
    const label = statementLabel(sql, labels);
    const entry = into.get(label) ?? { label, calls: 0, ms: 0 };
    entry.calls++;
    entry.ms += ms;
    into.set(label, entry);
    onStatement?.(label, ms);
  };
  const wrap = (raw: RawConnection): RawConnection => {
    const traced = Object.create(raw) as RawConnection;
    traced.query = (async (sql: string, params?: readonly unknown[]) => {
      const start = performance.now();
      try {
        return await raw.query(sql, params);
      } finally {
        add(sql, performance.now() - start);
      }
    }) as RawConnection['query'];
    traced.copyFrom = async (sql, source) => {
      const start = performance.now();
      try {
        return await raw.copyFrom(sql, source);
      } finally {
        add(sql, performance.now() - start);
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

/** The traced statements plus a last row for the time no statement accounts for. */
export function withOther(statements: StatementTiming[], totalSeconds: number): StatementTiming[] {
  const accounted = statements.reduce((sum, s) => sum + s.ms, 0);
  return [...statements, { label: 'other (BEGIN/COMMIT, Node)', calls: 0, ms: totalSeconds * 1000 - accounted }];
}

// ---------------------------------------------------------------------------------------------
// Reporting

export interface Machine {
  cores: number;
  cpu: string;
  memory: number;
  node: string;
  platform: string;
}

export async function describeMachine(): Promise<Machine> {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU',
    memory: os.totalmem(),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/** The "- Machine: …" line of a recorded result (numbers are only comparable on the same machine). */
export function machineLine(machine: Machine): string {
  return `- Machine: ${machine.cores} cores (${machine.cpu}), ${fmtBytes(machine.memory)} RAM, ${machine.platform}; Node ${machine.node}`;
}

/** "2026-11-10 06:00 UTC", the start of a run as its result heading gives it. */
export const fmtStarted = (started: Date) => `${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** Appends one run's markdown to the results file, starting a new file with its preamble. */
export async function appendResults(file: string, preamble: string, markdown: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const exists = await stat(file).then(() => true, () => false);
  await appendFile(file, (exists ? '\n' : preamble) + markdown);
  log(`results appended to ${path.relative(process.cwd(), file) || file}`);
}

/** A plain-text table: the first column left-aligned, the others right-aligned. */
export function textTable(headers: string[], rows: string[][]): string[] {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => '  ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : (c ?? '').padStart(widths[i]))).join('   '));
}

/** The same table in markdown, numbers right-aligned. */
export function mdTable(headers: string[], rows: string[][]): string[] {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${headers.map(esc).join(' | ')} |`,
    `|${headers.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ];
}

export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
export const fmtMiB = (bytes: number) => `${Math.round(bytes / 2 ** 20).toLocaleString('en-US')} MiB`;
export function fmtBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}
