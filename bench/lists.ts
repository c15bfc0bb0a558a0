/**
 * Payment list benchmark: how fast `generateLists` builds one activation's list over N registered
 * households, against a bare count of the same households (by P-code and by point in polygon), and
 * how fast the approved list is exported as CSV through the exports module, against PostgreSQL's
 * own COPY of the same rows and columns. Node's memory is sampled throughout, to show it stays flat
 * as N grows.
 *
 *   npm run bench -- lists [--households N] [--backend server|embedded] [--sizes 100000,1000000]
 *
 * See bench/README.md. Results are appended to bench/results/lists.md.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { finished } from 'node:stream/promises';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Command, InvalidArgumentError, Option } from 'commander';
import { openStore, type Store } from '../src/db/store.ts';
import { evaluateActivations, listActivations } from '../src/engine/activations.ts';
import { exportList } from '../src/exports/index.ts';
import { indicatorsAdapter } from '../src/feeds/adapters/indicators.ts';
import { ingestPayload } from '../src/feeds/ingest.ts';
import { generateLists, type GeneratedList } from '../src/engine/targeting/generate-lists.ts';
import { approveList } from '../src/lists/lifecycle.ts';
import { importRegistry } from '../src/registry/import-registry.ts';
import { approveRuleVersion, storeRuleVersions } from '../src/rules/versions.ts';
import { GENERATION_LABELS } from './lib/generation-labels.ts';
import {
  adminQuery, appendResults, demoAreas, describeMachine, fmtBytes, fmtInt, fmtMiB, fmtStarted, log, machineLine,
  mdTable, outsideTransaction, root, runsAsScript, sampleMemory, scalar, serverVersion, setUpDemoSchema, sha256File, textTable, tracing,
  wholeNumber, withOther, writeHouseholdsCsv,
  type Machine, type MemorySample, type StatementLabels, type StatementTiming,
} from './lib/support.ts';
import { copyBaseline, exportBaselineSelect, firstLine } from './lib/export-baseline.ts';
import { VCI3M_STAGES } from './lib/national-rules.ts';

const BENCH_DB = 'asp_bench_lists';

/**
 * The drought: 8 of the 24 districts (all of Northaven, XD01, and Eastmarch's first two), so about a
 * third of the households (the generated ones are spread evenly over the districts). VCI-3M under 10
 * is extreme, 10–20 severe; the other 16 districts are normal.
 */
const DROUGHT: Record<string, number> = {
  XD01001: 6, XD01002: 8, XD01003: 9, XD01004: 12, XD01005: 15, XD01006: 18, XD02001: 14, XD02002: 17,
};
const NORMAL_VCI = 45;
const RULE_ID = 'bench-xd-ct-vci-drought';
/** Three monthly VCI-3M values (the rule's window), the last one published on 5 November. */
const MONTHS = ['2026-08', '2026-09', '2026-10'];
const AS_OF = '2026-11-10T00:00:00Z';
const CYCLE = '2026-11';
const GENERATOR = 'bench.coordinator@demo';
const APPROVERS = ['bench.approver.one@demo', 'bench.approver.two@demo'];
const EXPORTER = 'bench.exporter@demo';

/** rules/demo/xd-ct-vci-drought.yaml, over the 8 drought districts (and with the bench's source). */
const RULE_YAML = `id: ${RULE_ID}
title: Bench drought top-up on VCI-3M over 8 Demoland districts (modelled on the demo rule)
country: XDL
programme: CT
owner: Demoland Ministry of Social Protection (fictional)
effective:
  from: 2024-07-01
agreed_text: >-
  The demo rule xd-ct-vci-drought, applied to the eight districts of the benchmark's drought.
monitoring:
  cadence: monthly
areas:
  admin_level: 2
  within: [${Object.keys(DROUGHT).join(', ')}]
${VCI3M_STAGES}tiers:
  - id: severe
    severity: 1
    when: { in_band: { trigger: vci, bands: [severe] } }
  - id: extreme
    severity: 2
    when: { in_band: { trigger: vci, bands: [extreme] } }
response:
  - mode: horizontal
    households:
      exclude:
        current_beneficiaries_of: [CT]
      priority:
        - { field: pmt_score, order: ascending }
      frozen_list: true
    coverage:
      kind: share
      percent: { by_tier: { severe: 50, extreme: 75 } }
      of: registered_households
      basis: total
      counting_beneficiaries_of: [CT]
    caps:
      per_area: { percent_of_registered: 75 }
    benefit: { kind: flat, amount: 2700, currency: KES }
    payments:
      frequency: monthly
      count: while_triggered
      start: { days_after_activation: 28 }
      channel: pre-opened bank account
budget:
  envelope: { amount: 1100000000, currency: KES, per: cycle }
  over_budget: [fund_most_severe_first, reduce_caseload_pro_rata]
  pro_rata_by: registered_households
  allow_value_reduction: false
overlap:
  - with: { programme: CT }
    policy: exclusive
`;

type BackendName = 'server' | 'embedded';

interface Options {
  households?: number;
  sizes: number[];
  backend: BackendName;
  adminUrl: string;
  seed: number;
  runs: number;
  results: string;
  save: boolean;
  keepDb: boolean;
  note?: string;
}

interface Memory extends MemorySample {
  /** Heap after a full GC once the step finished: what the step left behind (garbage excluded). */
  heapAfterGc: number;
}

interface Timed {
  /** Seconds of each run, in order. */
  runs: number[];
  median: number;
  rows: number;
  /** Over all runs: the lowest RSS/heap at a start and the highest peak. */
  memory: Memory;
}

interface Setup {
  csvSeconds: number;
  csvBytes: number;
  schemaSeconds: number;
  importSeconds: number;
  analyzeSeconds: number;
  droughtSeconds: number;
  householdsBytes: number;
  /** 1-minute load average when the size started and when it ended (other work on the machine skews timings). */
  load: [number, number];
}

interface SizeResult {
  households: number;
  backend: BackendName;
  version: string;
  settings: string;
  setup: Setup;
  areas: string[];
  activations: number;
  pcodeMatch: Timed;
  spatialMatch: Timed;
  generation: Timed;
  /** Generating again over the draft (replaces its entries), once. */
  regeneration: { seconds: number; rows: number };
  /** Per statement inside generateLists, for the median run. */
  generationStatements: StatementTiming[];
  list: GeneratedList;
  approvals: number;
  export: Timed;
  exportStatements: StatementTiming[];
  /** The same export once more after ANALYZE of the entries. */
  exportAnalyzed: { seconds: number; rows: number };
  exportAnalyzedStatements: StatementTiming[];
  exportBytes: number;
  copy: Timed;
  /** Whether the COPY baseline wrote exactly the export's bytes (server only; null: not checked). */
  sameBytes: boolean | null;
  sameBytesDetail: string;
}

export async function main(args: string[]): Promise<void> {
  const program = new Command('npm run bench -- lists')
    .description(
      'Times generateLists for one activation against a bare match of the same households, and the CSV export of the approved list against COPY.',
    )
    .option('--households <n>', 'one size only: households to generate (overrides --sizes)', wholeNumber)
    .option('--sizes <list>', 'comma-separated numbers of households, one fresh database each', sizeList, [100_000, 1_000_000])
    .addOption(new Option('--backend <which>', 'back end').choices(['server', 'embedded']).default('server'))
    .option('--admin-url <url>', 'PostgreSQL URL of a role that may create databases', 'postgres://postgres@127.0.0.1:5432/postgres')
    .option('--seed <n>', 'seed for the generated households', wholeNumber, 2026)
    .option('--runs <n>', 'runs of each timing (the median is reported)', wholeNumber, 3)
    .option('--results <file>', 'markdown file the results are appended to', path.join(root, 'bench/results/lists.md'))
    .option('--no-save', 'print the results only; do not append them to the results file')
    .option('--keep-db', `keep the database (${BENCH_DB}, or the PGlite directory) of the last size for inspection`)
    .option('--note <text>', 'a line of remarks to add to the results');
  program.parse(args, { from: 'user' });
  const options = program.opts<Options>();
  const sizes = options.households ? [options.households] : options.sizes;

  const started = new Date();
  log(`lists: ${sizes.map(fmtInt).join(', ')} households, ${options.backend} back end, ${options.runs} run(s) per timing`);
  const results: SizeResult[] = [];
  for (const [i, size] of sizes.entries()) {
    results.push(await runSize(size, options, options.keepDb && i === sizes.length - 1));
  }

  const machine = await describeMachine();
  process.stdout.write('\n' + renderText(machine, results) + '\n');
  if (options.save) {
    await appendResults(options.results, RESULTS_PREAMBLE, renderMarkdown(started, machine, options, results));
  }
}

function sizeList(value: string): number[] {
  const sizes = value.split(',').map((s) => Number(s.trim().replace(/_/g, '')));
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new InvalidArgumentError('expected whole numbers separated by commas, e.g. 100000,1000000');
  }
  return sizes;
}

// ---------------------------------------------------------------------------------------------
// One size, start to end

async function runSize(households: number, options: Options, keep: boolean): Promise<SizeResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'asp-bench-lists-'));
  const adminUrl = new URL(options.adminUrl);
  const benchUrl = new URL(options.adminUrl);
  benchUrl.pathname = `/${BENCH_DB}`;
  const tag = `${options.backend} ${fmtInt(households)}`;
  const loadAtStart = os.loadavg()[0];
  let store: Store | undefined;
  let dataDir: string | undefined;
  try {
    // Set-up: households CSV, fresh database, schema, areas, programmes, registry, the drought.
    const csv = path.join(dir, 'households.csv');
    const csvSeconds = await seconds(async () => {
      const areas = await demoAreas();
      log(`${tag}: generating ${fmtInt(households)} households over ${areas.length} districts`);
      await writeHouseholdsCsv(csv, areas, households, options.seed);
    });
    const csvBytes = (await stat(csv)).size;

    if (options.backend === 'server') {
      log(`${tag}: (re)creating database ${BENCH_DB}`);
      await adminQuery(adminUrl, [`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`, `CREATE DATABASE ${BENCH_DB}`]);
      store = await openStore({ url: benchUrl.href });
    } else {
      dataDir = path.join(dir, 'pglite');
      log(`${tag}: PGlite in ${dataDir}`);
      store = await openStore({ dataDir });
    }
    const opened = store;
    const schemaSeconds = await seconds(() => setUpDemoSchema(opened));
    log(`${tag}: migrated, areas and programmes loaded in ${schemaSeconds.toFixed(1)} s; importing the registry`);
    const importSeconds = await seconds(async () => {
      const report = await importRegistry(opened, csv);
      if (report.rows !== households || report.rejected !== 0) throw new Error(`importRegistry: expected ${households} rows and no rejects, got ${report.rows} and ${report.rejected}`);
    });
    log(`${tag}: registry imported in ${importSeconds.toFixed(1)} s; VACUUM ANALYZE`);
    // importRegistry does not analyze, and autovacuum may be off or late: plan on real statistics.
    const analyzeSeconds = await seconds(() => outsideTransaction(opened, 'VACUUM ANALYZE'));
    const droughtSeconds = await seconds(() => setUpDrought(opened, dir));
    const version = await serverVersion(opened);
    const settings = await serverSettings(opened);
    const householdsBytes = await scalar(opened, `SELECT pg_total_relation_size('households')::bigint AS n`);
    const activations = (await listActivations(opened, { ruleId: RULE_ID, status: 'open' })).filter((a) => a.stage === 'activation');
    const areas = activations.map((a) => a.pcode).sort();
    log(`${tag}: drought set up in ${droughtSeconds.toFixed(1)} s: ${activations.length} areas in activation (${areas.join(', ')})`);
    if (areas.join() !== Object.keys(DROUGHT).sort().join()) {
      throw new Error(`expected the ${Object.keys(DROUGHT).length} drought districts in activation, got ${areas.join(', ') || 'none'}`);
    }
    const setup: Setup = { csvSeconds, csvBytes, schemaSeconds, importSeconds, analyzeSeconds, droughtSeconds, householdsBytes, load: [loadAtStart, 0] };

    // Generation beside the bare matches, interleaved so that no one of them always runs on a cold cache.
    const pcodeRuns: Run[] = [];
    const spatialRuns: Run[] = [];
    const generationRuns: (Run & { list: GeneratedList; statements: StatementTiming[] })[] = [];
    for (let run = 1; run <= options.runs; run++) {
      pcodeRuns.push(await timeRun(() => scalar(opened, PCODE_MATCH, [areas])));
      spatialRuns.push(await timeRun(() => scalar(opened, SPATIAL_MATCH, [areas])));
      const statements = new Map<string, StatementTiming>();
      let list: GeneratedList | undefined;
      const generated = await timeRun(async () => {
        const lists = await generateLists(tracing(opened, statements, GENERATION_LABELS), activations[0].id, GENERATOR, { cycle: CYCLE });
        if (lists.length !== 1) throw new Error(`expected one list, got ${lists.length}`);
        list = lists[0];
        return list.households;
      });
      generationRuns.push({ ...generated, list: list!, statements: withOther([...statements.values()], generated.seconds) });
      log(
        `${tag}: run ${run}: P-code match ${fmtS(pcodeRuns.at(-1)!.seconds)} (${fmtInt(pcodeRuns.at(-1)!.rows)}), ` +
          `spatial match ${fmtS(spatialRuns.at(-1)!.seconds)} (${fmtInt(spatialRuns.at(-1)!.rows)}), ` +
          `generateLists ${fmtS(generated.seconds)} (${fmtInt(list!.households)} entries)`,
      );
      if (run < options.runs) await dropDraft(opened, list!.id);
    }
    const pcodeMatch = summarise(pcodeRuns);
    const spatialMatch = summarise(spatialRuns);
    const generation = summarise(generationRuns);
    const medianRun = generationRuns.find((r) => r.seconds === generation.median)!;

    // The last draft stays; generating again replaces it (the path a coordinator takes after a fix).
    let list = generationRuns.at(-1)!.list;
    const regenerated = await timeRun(async () => {
      [list] = await generateLists(opened, activations[0].id, GENERATOR, { cycle: CYCLE });
      return list.households;
    });
    log(`${tag}: regenerated over the draft in ${fmtS(regenerated.seconds)}; list ${list.id}: ${fmtInt(list.households)} entries, ${fmtInt(list.totalAmount)} ${list.currency}`);

    // Four eyes, six above the threshold.
    let approvals = 0;
    for (const approver of APPROVERS) {
      const approved = await approveList(opened, list.id, approver, list);
      approvals++;
      if (!approved.needsSecondApproval) break;
    }
    log(`${tag}: list ${list.id} approved (${approvals} approval(s)); checking that the COPY baseline writes the export's bytes`);

    // The baseline must be the same rows and columns: derive its SELECT from the export's header,
    // then (server) compare the two outputs byte for byte, untimed.
    const sample = path.join(dir, 'export.csv');
    const sampleOut = createWriteStream(sample);
    await exportList(opened, list.id, 'csv', sampleOut, {}, EXPORTER);
    sampleOut.end();
    await finished(sampleOut);
    const exportBytes = (await stat(sample)).size;
    const header = (await firstLine(sample)).split(',');
    const copySql = exportBaselineSelect(header, list.id);
    let sameBytes: boolean | null = null;
    let sameBytesDetail = 'not checked on the embedded back end (PGlite returns COPY output as one blob)';
    if (options.backend === 'server') {
      const copied = path.join(dir, 'copy.csv');
      await copyBaseline(opened, copySql, { url: benchUrl, database: BENCH_DB, file: copied });
      const [a, b] = await Promise.all([sha256File(sample), sha256File(copied)]);
      sameBytes = a === b;
      sameBytesDetail = sameBytes ? `identical (${fmtBytes(exportBytes)}, sha256 ${a.slice(0, 12)}…)` : await firstDifference(sample, copied);
      log(`${tag}: COPY baseline vs export: ${sameBytesDetail}`);
      await rm(copied, { force: true });
    }
    await rm(sample, { force: true });

    const exportRuns: Run[] = [];
    const copyRuns: Run[] = [];
    const exportStatementRuns: StatementTiming[][] = [];
    for (let run = 1; run <= options.runs; run++) {
      const statements = new Map<string, StatementTiming>();
      const exported = await timeRun(async () => {
        const out = createWriteStream('/dev/null');
        const summary = await exportList(tracing(opened, statements, EXPORT_LABELS), list.id, 'csv', out, {}, EXPORTER);
        out.end();
        await finished(out);
        return summary.rows;
      });
      exportRuns.push(exported);
      exportStatementRuns.push(withOther([...statements.values()], exported.seconds));
      const copied = await timeRun(() => copyBaseline(opened, copySql, options.backend === 'server' ? { url: benchUrl, database: BENCH_DB, file: '/dev/null' } : null));
      copyRuns.push(copied);
      log(
        `${tag}: run ${run}: export ${fmtS(exported.seconds)} (${fmtInt(exported.rows)} rows, ${fmtInt(exported.rows / exported.seconds)} rows/s), ` +
          `COPY ${fmtS(copied.seconds)} (${fmtInt(copied.rows)} rows, ${fmtInt(copied.rows / copied.seconds)} rows/s)`,
      );
      if (exported.rows !== list.households || copied.rows !== list.households) {
        throw new Error(`expected ${list.households} rows from both, got ${exported.rows} (export) and ${copied.rows} (COPY)`);
      }
    }
    setup.load[1] = os.loadavg()[0];
    const exported = summarise(exportRuns);
    const exportStatements = exportStatementRuns[exportRuns.findIndex((r) => r.seconds === exported.median)];

    // Nothing in the engine analyzes the new entries (and autovacuum may be off or not yet round):
    // the runs above plan on whatever statistics generation left. Once more with fresh ones.
    await outsideTransaction(opened, 'ANALYZE payment_list_entries, payment_list_areas');
    const analyzedStatements = new Map<string, StatementTiming>();
    const analyzedRun = await timeRun(async () => {
      const out = createWriteStream('/dev/null');
      const summary = await exportList(tracing(opened, analyzedStatements, EXPORT_LABELS), list.id, 'csv', out, {}, EXPORTER);
      out.end();
      await finished(out);
      return summary.rows;
    });
    log(`${tag}: export after ANALYZE payment_list_entries: ${fmtS(analyzedRun.seconds)} (${fmtInt(analyzedRun.rows / analyzedRun.seconds)} rows/s)`);

    return {
      households, backend: options.backend, version, settings, setup, areas, activations: activations.length,
      pcodeMatch, spatialMatch, generation, regeneration: { seconds: regenerated.seconds, rows: regenerated.rows },
      generationStatements: medianRun.statements, list, approvals,
      export: exported, exportStatements, exportAnalyzed: { seconds: analyzedRun.seconds, rows: analyzedRun.rows },
      exportAnalyzedStatements: withOther([...analyzedStatements.values()], analyzedRun.seconds), exportBytes, copy: summarise(copyRuns), sameBytes, sameBytesDetail,
    };
  } finally {
    await store?.close();
    if (keep) {
      log(options.backend === 'server' ? `kept database ${BENCH_DB}` : `kept PGlite directory ${dataDir} (and ${dir})`);
      if (dataDir) await rm(path.join(dir, 'households.csv'), { force: true });
    } else {
      if (options.backend === 'server') await adminQuery(adminUrl, [`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`]).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** VCI-3M for every district over three months, the rule stored and approved by two people, evaluated. */
async function setUpDrought(store: Store, dir: string): Promise<void> {
  const pcodes = (await demoAreas()).map((a) => a.pcode);
  for (const month of MONTHS) {
    const [y, m] = month.split('-').map(Number);
    const end = new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
    const rows = pcodes.map((p) => `${p},vci3m,${month}-01,${end},${DROUGHT[p] ?? NORMAL_VCI},final,NDMA (bench)`);
    const bytes = Buffer.from(['pcode,indicator,period_start,period_end,value,status,source', ...rows].join('\n') + '\n');
    const summary = await ingestPayload(store, indicatorsAdapter, {
      source: 'indicators', bytes, url: `bench://vci3m-${month}.csv`, fetchedAt: new Date(Date.UTC(y, m, 5, 6)),
    });
    if (summary.indicatorsAdded !== pcodes.length) throw new Error(`VCI ${month}: ${summary.indicatorsAdded} values stored, expected ${pcodes.length}`);
  }
  const file = path.join(dir, `${RULE_ID}.yaml`);
  await writeFile(file, RULE_YAML);
  await storeRuleVersions(store, file, 'bench.rule.author@demo');
  await approveRuleVersion(store, RULE_ID, 'bench.rule.approver@demo');
  await evaluateActivations(store, { ruleId: RULE_ID, asOf: AS_OF });
}

/** Deletes a draft list (its entries and areas cascade) and vacuums, so the next run starts as the first did. */
async function dropDraft(store: Store, listId: number): Promise<void> {
  await store.transaction(({ raw }) => raw.query(`DELETE FROM payment_lists WHERE id = $1 AND status = 'draft'`, [listId]));
  await outsideTransaction(store, 'VACUUM ANALYZE payment_list_entries, payment_list_areas');
}

// ---------------------------------------------------------------------------------------------
// The baselines

/** Every household of the areas and the areas below them, by P-code (what an area rule matches on). */
const PCODE_MATCH = `SELECT count(*)::bigint AS n FROM households h JOIN admin_area_ancestors x ON x.pcode = h.admin_pcode
  WHERE x.ancestor_pcode = ANY($1::text[])`;
/** The same households by their points: GiST over the subdivided area parts. */
const SPATIAL_MATCH = `SELECT count(*)::bigint AS n FROM admin_area_parts p JOIN households h ON ST_Intersects(p.geom, h.location)
  WHERE p.pcode = ANY($1::text[])`;

/** Where two CSV files first differ, for the report (they are read whole: a list of this bench fits). */
async function firstDifference(a: string, b: string): Promise<string> {
  const [la, lb] = [(await readFile(a, 'utf8')).split('\n'), (await readFile(b, 'utf8')).split('\n')];
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return `differ at line ${i + 1}: export "${la[i]?.slice(0, 160)}" vs COPY "${lb[i]?.slice(0, 160)}"`;
  }
  return 'differ (same lines, different bytes)';
}

// ---------------------------------------------------------------------------------------------
// Database helpers

async function serverSettings(store: Store): Promise<string> {
  const names = ['shared_buffers', 'work_mem', 'jit', 'max_parallel_workers_per_gather', 'autovacuum'];
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ name: string; setting: string }>(
      `SELECT name, current_setting(name) AS setting FROM unnest($1::text[]) AS name`,
      [names],
    ),
  );
  return rows.map((r) => `${r.name} ${r.setting}`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// Timing and memory

interface Run {
  seconds: number;
  rows: number;
  memory: Memory;
}

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await work();
  return (performance.now() - t0) / 1000;
}

/**
 * A full garbage collection, so that every step's "before" heap and RSS start from the same floor
 * (without it the heap a step starts with is whatever the previous steps left uncollected).
 */
const collectGarbage: () => void = (() => {
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

async function timeRun(work: () => Promise<number>): Promise<Run> {
  collectGarbage();
  const memory = sampleMemory();
  const t0 = performance.now();
  const rows = await work();
  const elapsed = (performance.now() - t0) / 1000;
  const stopped = memory.stop();
  collectGarbage();
  return { seconds: elapsed, rows, memory: { ...stopped, heapAfterGc: process.memoryUsage().heapUsed } };
}

function summarise(runs: Run[]): Timed {
  const sorted = runs.map((r) => r.seconds).sort((a, b) => a - b);
  return {
    runs: runs.map((r) => r.seconds),
    median: sorted[Math.floor((sorted.length - 1) / 2)],
    rows: runs[runs.length - 1].rows,
    memory: {
      rssBefore: Math.min(...runs.map((r) => r.memory.rssBefore)),
      rssPeak: Math.max(...runs.map((r) => r.memory.rssPeak)),
      heapBefore: Math.min(...runs.map((r) => r.memory.heapBefore)),
      heapPeak: Math.max(...runs.map((r) => r.memory.heapPeak)),
      heapAfterGc: Math.max(...runs.map((r) => r.memory.heapAfterGc)),
      maxRss: Math.max(...runs.map((r) => r.memory.maxRss)),
    },
  };
}

const EXPORT_LABELS: StatementLabels = [
  [/FROM payment_lists l\s+JOIN rule_versions v/, 'read the list header'],
  [/count\(\*\)::int AS n FROM payment_list_entries/, 'count entries'],
  [/asp-engine:audit|audit_log/, 'audit'],
  [/SET LOCAL/, 'page: SET LOCAL'],
  [/payment_list_entries[\s\S]*JOIN households h/, 'read a page of entries'],
];

// ---------------------------------------------------------------------------------------------
// Reporting

const RESULTS_PREAMBLE = `# Payment list benchmark results

Written by \`npm run bench -- lists\` (see [../README.md](../README.md)); newest run last.
Each size runs in a fresh database: N generated households, a drought over 8 of the 24 Demoland
districts (about a third of the households), one approved rule, one activation. Times are the median
of the runs (each run listed in brackets). "Generation ÷ match" is generateLists' time over the bare
count of the same households (goal: at most 1.5×); "export ÷ COPY" is the CSV export's rows/s as a
share of PostgreSQL's COPY of the same rows and columns (goal: at least 70 %); Node's peak RSS and
heap during each step should stay flat between sizes.

`;

/** The metric × size table, as rows of cells (the first cell names the metric). */
function metricRows(results: SizeResult[]): string[][] {
  const cells = (f: (r: SizeResult) => string) => results.map(f);
  const timed = (t: Timed) => `${fmtS(t.median)} [${t.runs.map((s) => s.toFixed(3)).join(', ')}]`;
  const rate = (t: Timed) => fmtInt(t.rows / t.median);
  const mem = (m: Memory) => `${fmtMiB(m.rssBefore)} → ${fmtMiB(m.rssPeak)}`;
  const heap = (m: Memory) => `${fmtMiB(m.heapBefore)} → ${fmtMiB(m.heapPeak)} (${fmtMiB(m.heapAfterGc)})`;
  return [
    ['households in the drought areas (P-code / points)', ...cells((r) => `${fmtInt(r.pcodeMatch.rows)} / ${fmtInt(r.spatialMatch.rows)}`)],
    ['list entries', ...cells((r) => fmtInt(r.list.households))],
    ['list total', ...cells((r) => `${fmtInt(r.list.totalAmount)} ${r.list.currency}`)],
    ['bare match by P-code', ...cells((r) => timed(r.pcodeMatch))],
    ['bare match by point in polygon', ...cells((r) => timed(r.spatialMatch))],
    ['generateLists', ...cells((r) => timed(r.generation))],
    ['generation ÷ P-code match', ...cells((r) => fmtRatio(r.generation.median / r.pcodeMatch.median))],
    ['generation ÷ spatial match', ...cells((r) => fmtRatio(r.generation.median / r.spatialMatch.median))],
    ['generateLists again over the draft (once)', ...cells((r) => fmtS(r.regeneration.seconds))],
    ['CSV export through src/exports', ...cells((r) => timed(r.export))],
    ['CSV export rows/s', ...cells((r) => rate(r.export))],
    ['COPY of the same rows and columns', ...cells((r) => timed(r.copy))],
    ['COPY rows/s', ...cells((r) => rate(r.copy))],
    ['export ÷ COPY (rows/s)', ...cells((r) => `${Math.round((100 * r.copy.median) / r.export.median)} %`)],
    ['CSV export after ANALYZE of the entries (once)', ...cells((r) => `${fmtS(r.exportAnalyzed.seconds)}, ${fmtInt(r.exportAnalyzed.rows / r.exportAnalyzed.seconds)} rows/s, ${Math.round((100 * r.copy.median) / r.exportAnalyzed.seconds)} % of COPY`)],
    ['export file size', ...cells((r) => fmtBytes(r.exportBytes))],
    ['Node RSS before → peak, generation', ...cells((r) => mem(r.generation.memory))],
    ['Node heap before → peak (after GC), generation', ...cells((r) => heap(r.generation.memory))],
    ['Node RSS before → peak, export', ...cells((r) => mem(r.export.memory))],
    ['Node heap before → peak (after GC), export', ...cells((r) => heap(r.export.memory))],
    ['process RSS high-water mark (getrusage)', ...cells((r) => fmtMiB(Math.max(r.generation.memory.maxRss, r.export.memory.maxRss)))],
  ];
}

function setupRows(results: SizeResult[]): string[][] {
  const cells = (f: (r: SizeResult) => string) => results.map(f);
  return [
    ['households CSV generated', ...cells((r) => `${fmtS(r.setup.csvSeconds)} (${fmtBytes(r.setup.csvBytes)})`)],
    ['migrate + areas + programmes', ...cells((r) => fmtS(r.setup.schemaSeconds))],
    ['importRegistry', ...cells((r) => fmtS(r.setup.importSeconds))],
    ['VACUUM ANALYZE', ...cells((r) => fmtS(r.setup.analyzeSeconds))],
    ['drought: VCI published, rule approved, evaluated', ...cells((r) => `${fmtS(r.setup.droughtSeconds)} (${r.activations} areas)`)],
    ['households table with indexes', ...cells((r) => fmtBytes(r.setup.householdsBytes))],
    ['list approvals', ...cells((r) => String(r.approvals))],
    [`1-minute load average at start → end (${os.cpus().length} cores)`, ...cells((r) => `${r.setup.load[0].toFixed(1)} → ${r.setup.load[1].toFixed(1)}`)],
    ['COPY baseline vs export bytes', ...cells((r) => r.sameBytesDetail)],
  ];
}

/** Statement → seconds per size, for the median run. */
function breakdownRows(results: SizeResult[], pick: (r: SizeResult) => StatementTiming[]): string[][] {
  const labels = [...new Set(results.flatMap((r) => pick(r).map((s) => s.label)))];
  const ordered = [...labels.filter((l) => !l.startsWith('other')), ...labels.filter((l) => l.startsWith('other'))];
  return ordered.map((label) => [
    label,
    ...results.map((r) => {
      const found = pick(r).find((s) => s.label === label);
      if (!found) return '';
      const s = (found.ms / 1000).toFixed(found.ms < 100 ? 3 : 2);
      return found.calls > 1 ? `${s} (${found.calls}×)` : s;
    }),
  ]);
}

function goals(results: SizeResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    const g = r.generation.median;
    const worst = Math.max(g / r.pcodeMatch.median, g / r.spatialMatch.median);
    const share = r.copy.median / r.export.median;
    lines.push(
      `${fmtInt(r.households)}: generation ${fmtRatio(g / r.pcodeMatch.median)} the P-code match and ${fmtRatio(g / r.spatialMatch.median)} the spatial match ` +
        `(goal ≤ 1.5×: ${worst <= 1.5 ? 'met' : 'not met'}); export at ${Math.round(100 * share)} % of COPY's rate (goal ≥ 70 %: ${share >= 0.7 ? 'met' : 'not met'})`,
    );
  }
  if (results.length > 1) {
    const [small, large] = [results[0], results[results.length - 1]];
    const growth = (f: (r: SizeResult) => number) => `${fmtMiB(f(small))} → ${fmtMiB(f(large))}`;
    lines.push(
      `memory from ${fmtInt(small.households)} to ${fmtInt(large.households)}: peak RSS in generation ${growth((r) => r.generation.memory.rssPeak)}, ` +
        `in export ${growth((r) => r.export.memory.rssPeak)}; peak heap in generation ${growth((r) => r.generation.memory.heapPeak)}, ` +
        `in export ${growth((r) => r.export.memory.heapPeak)}; heap left after a full GC, generation ${growth((r) => r.generation.memory.heapAfterGc)}, ` +
        `export ${growth((r) => r.export.memory.heapAfterGc)}`,
    );
  }
  return lines;
}

function renderText(machine: Machine, results: SizeResult[]): string {
  const sizes = results.map((r) => `${fmtInt(r.households)} households`);
  const lines: string[] = [];
  lines.push(`${results[0].backend} (${results[0].version}); ${results[0].settings}`);
  lines.push(`${machine.cores} cores (${machine.cpu}), Node ${machine.node}`, '');
  lines.push(...textTable(['set-up (not part of the result)', ...sizes], setupRows(results)), '');
  lines.push(...textTable(['measurement (median [runs])', ...sizes], metricRows(results)), '');
  lines.push(...textTable(['inside generateLists, median run (s)', ...sizes], breakdownRows(results, (r) => r.generationStatements)), '');
  lines.push(...textTable(['inside the CSV export, median run (s)', ...sizes], breakdownRows(results, (r) => r.exportStatements)), '');
  lines.push(...textTable(['inside the CSV export after ANALYZE (s)', ...sizes], breakdownRows(results, (r) => r.exportAnalyzedStatements)), '');
  lines.push('Goals:', ...goals(results).map((l) => `  - ${l}`));
  return lines.join('\n');
}

function renderMarkdown(started: Date, machine: Machine, options: Options, results: SizeResult[]): string {
  const sizes = results.map((r) => fmtInt(r.households));
  const out: string[] = [];
  out.push(`## ${fmtStarted(started)}: ${sizes.join(' and ')} households, ${results[0].backend}`, '');
  out.push(
    machineLine(machine),
    `- Database: ${results[0].version}; ${results[0].settings}`,
    `- Households: seed ${options.seed}, spread evenly over the 24 Demoland districts; drought in ${results[0].areas.join(', ')}; ` +
      `rule ${RULE_ID} (the demo rule's response over those districts); ${options.runs} run(s) per timing, the draft deleted and vacuumed between generation runs`,
  );
  if (options.note) out.push(`- Note: ${options.note}`);
  out.push('', ...mdTable(['set-up (not part of the result)', ...sizes], setupRows(results)));
  out.push('', ...mdTable(['measurement: median [each run]', ...sizes], metricRows(results)));
  out.push('', 'Time per statement inside generateLists, median run (s):', '');
  out.push(...mdTable(['statement', ...sizes], breakdownRows(results, (r) => r.generationStatements)));
  out.push('', 'Time per statement inside the CSV export, median run (s):', '');
  out.push(...mdTable(['statement', ...sizes], breakdownRows(results, (r) => r.exportStatements)));
  out.push('', 'Time per statement inside the CSV export after ANALYZE of the entries (s):', '');
  out.push(...mdTable(['statement', ...sizes], breakdownRows(results, (r) => r.exportAnalyzedStatements)));
  out.push('', 'Goals:', '', ...goals(results).map((l) => `- ${l}`));
  return out.join('\n') + '\n';
}

const fmtS = (s: number) => `${s.toFixed(s < 10 ? 3 : 1)} s`;
const fmtRatio = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)}×`;

// Also runnable on its own: `npx tsx bench/lists.ts --households 10000 --no-save`.
if (runsAsScript(import.meta.url)) {
  await main(process.argv.slice(2));
}
