/**
 * API load benchmark: N concurrent clients for S seconds against the event and payment-list pages
 * of a running `asp start` on the server back end (PostgreSQL + PostGIS), with autocannon.
 *
 *   npm run bench -- api [--connections 50] [--seconds 60] [--admin-url postgres://postgres@127.0.0.1:5432/postgres]
 *
 * Set-up (not timed): a fresh database `asp_bench_api`, `asp start` on it (the demo: Demoland,
 * 20,000 households, the demo feeds, the drought activations and a draft list), the list approved
 * and released to the demo partner. Then, at once: GET /api/events, /api/lists, /api/lists/:id,
 * /api/activations (coordinator key) and the partner's /api/lists. Results are appended to
 * bench/results/api.md. Goal: p99 under 200 ms and no errors.
 */
import { spawn } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Command } from 'commander';
import pg from 'pg';

const root = fileURLToPath(new URL('../', import.meta.url));
const DB = 'asp_bench_api';

export async function main(args: string[]): Promise<void> {
  const options = new Command('api')
    .option('--connections <n>', 'concurrent clients', (v) => Number(v), 50)
    .option('--seconds <n>', 'duration', (v) => Number(v), 60)
    .option('--admin-url <url>', 'a PostgreSQL server with PostGIS (database postgres)', 'postgres://postgres@127.0.0.1:5432/postgres')
    .option('--no-save', 'do not append to bench/results/api.md')
    .parse(args, { from: 'user' })
    .opts<{ connections: number; seconds: number; adminUrl: string; save: boolean }>();

  const admin = new pg.Client({ connectionString: options.adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${DB}`);
  await admin.end();
  const url = new URL(options.adminUrl);
  url.pathname = `/${DB}`;

  console.log('set-up: asp start on a fresh server database (demo, feeds, activations, draft list)…');
  const child = spawn(process.execPath, ['bin/asp.js', 'start'], {
    cwd: root,
    // The limiter is per key; the bench's two keys make thousands of requests a minute.
    env: { ...process.env, DATABASE_URL: url.toString(), PORT: '0', LOG_LEVEL: 'warn', ASP_RATE_LIMIT: '1000000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const started = await new Promise<RegExpMatchArray>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /asp-engine is up at (http:\S+)[\s\S]*demo approver key: (\S+)[\s\S]*demo partner key[^:]*: (\S+)/.exec(output);
      if (match && /demo coordinator key: (\S+)/.test(output)) resolve(match);
    });
    child.once('exit', (code) => reject(new Error(`asp start exited with ${code}:\n${output}`)));
  });
  const [, base, approverKey, partnerKey] = started;
  const coordinatorKey = /demo coordinator key: (\S+)/.exec(output)![1];
  try {
    const asCoordinator = { authorization: `Bearer ${coordinatorKey}` };
    let lists: { id: number; status: string }[] = [];
    for (let attempt = 0; attempt < 240 && lists.length === 0; attempt++) {
      lists = ((await (await fetch(`${base}/api/lists`, { headers: asCoordinator })).json()) as { lists: typeof lists }).lists;
      if (lists.length === 0) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    if (lists.length === 0) throw new Error('the demo produced no payment list');
    const listId = lists[0].id;
    const { entriesSha256 } = lists[0] as unknown as { entriesSha256: string };
    const post = (path: string, body?: unknown) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${approverKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
    await post(`/api/lists/${listId}/approve`, { sha256: entriesSha256 });
    await post(`/api/lists/${listId}/release`, { partnerId: 'demo-wfp', purpose: 'bench', expiresOn: '2099-12-31' });

    console.log(`load: ${options.connections} clients for ${options.seconds} s against ${base}`);
    const result = await autocannon({
      url: base,
      connections: options.connections,
      duration: options.seconds,
      requests: [
        { method: 'GET', path: '/api/events', headers: asCoordinator },
        { method: 'GET', path: '/api/lists', headers: asCoordinator },
        { method: 'GET', path: `/api/lists/${listId}`, headers: asCoordinator },
        { method: 'GET', path: '/api/activations?status=open', headers: asCoordinator },
        { method: 'GET', path: '/api/lists', headers: { authorization: `Bearer ${partnerKey}` } },
      ],
    });
    const errors = result.errors + result.timeouts + result.non2xx;
    const line = `| ${new Date().toISOString().slice(0, 16)} | ${os.cpus().length} cores, Node ${process.version} | ${options.connections} | ${options.seconds} s | ${result.requests.total} | ${Math.round(result.requests.average)} | ${result.latency.p50} | ${result.latency.p97_5} | ${result.latency.p99} | ${result.latency.max} | ${errors} |`;
    console.log('\n| when | machine | clients | duration | requests | req/s | p50 ms | p97.5 ms | p99 ms | max ms | errors |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    console.log(line);
    console.log(`\ngoal p99 < 200 ms and 0 errors: ${result.latency.p99 < 200 && errors === 0 ? 'met' : 'NOT met'}`);
    if (options.save) await appendFile(`${root}bench/results/api.md`, `${line}\n`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}
