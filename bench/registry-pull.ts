/**
 * Registry pull benchmark: households per second of a DCI Social Registry pull (`pullDci`: signed
 * sync/search pages from the test peer on 127.0.0.1, responses verified, mapped, streamed with
 * COPY into the same staging, checks and upsert as the CSV import) beside the CSV import
 * (`importRegistry`) of the same households, in the same process, on the server back end.
 * Goal (issue 12): the pull at least half the CSV import's rate.
 *
 *   npm run bench -- registry-pull [--households N] [--page-size N] [--admin-url URL]
 *
 * Results are appended to bench/results/registry-pull.md.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { Command } from 'commander';
import { openStore, type Store } from '../src/db/store.ts';
import { jwksOf, loadKeyRing } from '../src/interop/signing-keys.ts';
import { DEFAULT_MAPPING } from '../src/registry/dci/group-record.ts';
import { pullDci } from '../src/registry/dci/pull.ts';
import { importRegistry } from '../src/registry/import-registry.ts';
import type { PeerWorkerData } from './lib/dci-peer-worker.ts';
import {
  adminQuery, appendResults, demoAreas, describeMachine, fmtBytes, fmtInt, fmtStarted, log, machineLine, root, sampleMemory,
  serverVersion, setUpDemoSchema, wholeNumber, type MemorySample,
} from './lib/support.ts';

const BENCH_DB = 'asp_bench_pull';

interface Options {
  households: number;
  pageSize: number;
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
  memory: MemorySample;
}

export async function main(args: string[]): Promise<void> {
  const program = new Command('npm run bench -- registry-pull')
    .description('Times a DCI registry pull of N households from the test peer against the CSV import of the same households.')
    .option('--households <n>', 'households the peer holds', wholeNumber, 1_000_000)
    .option('--page-size <n>', 'groups per sync/search page', wholeNumber, 1000)
    .option('--admin-url <url>', 'PostgreSQL URL of a role that may create databases', 'postgres://postgres@127.0.0.1:5432/postgres')
    .option('--seed <n>', 'seed of the generated households', wholeNumber, 2026)
    .option('--results <file>', 'markdown file the results are appended to', path.join(root, 'bench/results/registry-pull.md'))
    .option('--no-save', 'print the results only; do not append them to the results file')
    .option('--note <text>', 'a line of remarks to add to the results');
  program.parse(args, { from: 'user' });
  const options = program.opts<Options>();
  const started = new Date();
  const pcodes = (await demoAreas()).map((a) => a.pcode);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'asp-bench-pull-'));
  const ring = await loadKeyRing(path.join(dir, 'keys'), 'asp-bench', { create: true });
  const csvFile = path.join(dir, 'households.csv');
  log(`starting the DCI peer with ${fmtInt(options.households)} households (and writing them as CSV)`);
  const peer = await startPeerWorker({ households: options.households, seed: options.seed, pcodes, csvFile, engineJwks: jwksOf(ring) });
  const adminUrl = new URL(options.adminUrl);
  const benchUrl = new URL(options.adminUrl);
  benchUrl.pathname = `/${BENCH_DB}`;
  let store: Store | undefined;
  try {
    const csv = { file: csvFile, bytes: (await stat(csvFile)).size };
    const fresh = async () => {
      await store?.close();
      await adminQuery(adminUrl, [`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`, `CREATE DATABASE ${BENCH_DB}`]);
      store = await openStore({ url: benchUrl.href });
      await setUpDemoSchema(store);
      return store;
    };
    let opened = await fresh();
    const version = await serverVersion(opened);

    log(`pulling ${fmtInt(options.households)} households from the DCI peer (pages of ${options.pageSize})`);
    const pull = await timeStep('DCI pull (sync/search, signed), fresh', async () => {
      const registry = {
        name: 'bench', url: peer.url, receiverId: peer.senderId, jwks: `${peer.url}/.well-known/jwks.json`,
        pageSize: options.pageSize, mapping: { ...DEFAULT_MAPPING, identifierType: 'HouseholdID' },
      };
      const report = await pullDci(opened, registry, { key: ring.active }, { actor: 'bench', full: true });
      return report.inserted;
    });
    // A fresh database for the CSV import too, so that both start from the same state.
    opened = await fresh();
    log(`importing the same ${fmtInt(options.households)} households from CSV (${fmtBytes(csv.bytes)})`);
    const file = await timeStep('CSV import (importRegistry), fresh', async () => (await importRegistry(opened, csv.file)).inserted);

    const machine = await describeMachine();
    const ratio = (pull.rows / pull.seconds) / (file.rows / file.seconds);
    const lines = [
      `## ${fmtStarted(started)}: ${fmtInt(options.households)} households, pages of ${options.pageSize}`,
      '',
      machineLine(machine),
      `- Server: ${version}`,
      ...(options.note ? [`- Note: ${options.note}`] : []),
      '',
      '| step | households | time (s) | households/s | Node RSS before → peak |',
      '|---|---:|---:|---:|---:|',
      ...[pull, file].map((s) => `| ${s.name} | ${fmtInt(s.rows)} | ${s.seconds.toFixed(1)} | ${fmtInt(s.rows / s.seconds)} | ${fmtBytes(s.memory.rssBefore)} → ${fmtBytes(s.memory.rssPeak)} |`),
      '',
      `The pull ran at ${(ratio * 100).toFixed(0)} % of the CSV import's rate (goal: at least 50 %).`,
      '',
    ];
    process.stdout.write(`\n${lines.join('\n')}`);
    if (options.save) await appendResults(options.results, PREAMBLE, lines.join('\n'));
  } finally {
    await store?.close();
    await peer.close();
    await adminQuery(adminUrl, [`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

const PREAMBLE = `# registry-pull results

\`npm run bench -- registry-pull\` (see bench/README.md): a DCI pull from the test peer
(test/peers/dci-registry.ts) beside the CSV import of the same households. Newest last.

`;

/** The peer in its own thread (see lib/dci-peer-worker.ts), once it listens and has written the CSV. */
async function startPeerWorker(data: PeerWorkerData): Promise<{ url: string; senderId: string; close(): Promise<void> }> {
  const module = new URL('./lib/dci-peer-worker.ts', import.meta.url).href;
  const worker = new Worker(new URL('./lib/ts-worker.mjs', import.meta.url), { workerData: { ...data, module } });
  const ready = await new Promise<{ url: string; senderId: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    ...ready,
    close: async () => {
      worker.postMessage('close');
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}

async function timeStep(name: string, work: () => Promise<number>): Promise<Step> {
  const memory = sampleMemory();
  const t0 = performance.now();
  const rows = await work();
  const seconds = (performance.now() - t0) / 1000;
  log(`${name}: ${fmtInt(rows)} in ${seconds.toFixed(1)} s (${fmtInt(rows / seconds)}/s)`);
  return { name, rows, seconds, memory: memory.stop() };
}
