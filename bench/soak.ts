/**
 * Soak: feeds, rule evaluation and API traffic together for a long while on the server back end,
 * to see errors (goal 0), latency over time and memory over time (goal: no growth).
 *
 *   npm run bench -- soak [--minutes 10] [--rate 20] [--workers 4] [--admin-url URL] [--no-save] [--note TEXT]
 *
 * Set-up: a fresh database `asp_bench_soak`; a feed server on 127.0.0.1 serving real recorded
 * payloads that change over time (USGS significant month: an event updated every minute; the
 * GDACS 24 h RSS, unchanged, with an ETag so that most runs are 304s; Demoland's VCI-3M table
 * whose latest value for XD02001 swings between normal and extreme every minute, so activations
 * open and close); `asp start` on the database with those feeds on 20–30 s schedules (the demo
 * registry of 20,000 households, the scheduler, rule evaluation on new data and the demo's draft
 * list); the list approved and released to the demo partner. Then, for `--minutes`, `--workers`
 * clients at `--rate` requests per second in all: events, lists, one list, activations, feed
 * health, and the partner's CSV export, in turn. Reported per minute: requests, errors, p50 and
 * p99 latency, the server process's RSS and the feed runs that finished; over the run: the RSS
 * growth slope (least squares after the first minute). Appended to bench/results/soak.md.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import pg from 'pg';
import { adminQuery, appendResults, describeMachine, fmtStarted, log, machineLine, root, wholeNumber } from './lib/support.ts';

const DB = 'asp_bench_soak';
const sharedFeeds = path.resolve(root, '../shared/data/feeds');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Options {
  minutes: number;
  rate: number;
  workers: number;
  adminUrl: string;
  save: boolean;
  note?: string;
  results: string;
}

export async function main(args: string[]): Promise<void> {
  const options = new Command('soak')
    .option('--minutes <n>', 'how long the load runs', wholeNumber, 10)
    .option('--rate <n>', 'API requests per second, all clients together', wholeNumber, 20)
    .option('--workers <n>', 'concurrent API clients', wholeNumber, 4)
    .option('--admin-url <url>', 'a PostgreSQL server with PostGIS, a role that may create databases', 'postgres://postgres@127.0.0.1:5432/postgres')
    .option('--results <file>', 'where the markdown result is appended', path.join(root, 'bench/results/soak.md'))
    .option('--no-save', 'print only')
    .option('--note <text>', 'a remark added to the recorded result')
    .parse(args, { from: 'user' })
    .opts<Options>();

  const admin = new URL(options.adminUrl);
  await adminQuery(admin, [`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`, `CREATE DATABASE ${DB}`]);
  const url = new URL(options.adminUrl);
  url.pathname = `/${DB}`;
  const started = new Date();
  const feeds = await startFeedServer(started);
  const config = path.join(os.tmpdir(), `asp-soak-feeds-${process.pid}.yaml`);
  await writeFile(config, feedsYaml(feeds.url));

  log('set-up: asp start on a fresh server database (demo registry, soak feeds, scheduler)…');
  const child = spawn(process.execPath, ['bin/asp.js', 'start'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url.toString(), ASP_FEEDS: config, PORT: '0', LOG_LEVEL: 'warn', ASP_RATE_LIMIT: '1000000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The engine's own errors count: structured lines at level error (50) or fatal (60).
  const engine = { errors: [] as string[], warnings: 0 };
  let pending = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const level = /"level":(\d+)/.exec(line)?.[1];
      if (level && Number(level) >= 50) engine.errors.push(line.slice(0, 300));
      else if (level === '40') engine.warnings++;
    }
  });
  let output = '';
  const up = await new Promise<RegExpMatchArray>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /asp-engine is up at (http:\S+)[\s\S]*demo coordinator key: (\S+)[\s\S]*demo approver key: (\S+)[\s\S]*demo partner key[^:]*: (\S+)/.exec(output);
      if (match) resolve(match);
    });
    child.once('exit', (code) => reject(new Error(`asp start exited with ${code}:\n${output}`)));
  });
  const [, base, coordinatorKey, approverKey, partnerKey] = up;
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  try {
    const listId = await approvedAndReleasedList(base, coordinatorKey, approverKey);
    log(`load: ${options.workers} clients, ${options.rate} requests/s, ${options.minutes} min against ${base} (server pid ${child.pid})`);
    const requests: [string, string][] = [
      ['/api/events', coordinatorKey],
      ['/api/lists', coordinatorKey],
      [`/api/lists/${listId}`, coordinatorKey],
      ['/api/activations?status=open', coordinatorKey],
      ['/api/feeds', coordinatorKey],
      [`/api/lists/${listId}/export?format=csv`, partnerKey],
      ['/api/lists', partnerKey],
    ];
    const { minutes, slope } = await soak(base, requests, child.pid!, db, options, engine);
    const markdown = await report(options, started, minutes, slope, engine, feeds.hits);
    process.stdout.write(markdown);
    if (options.save) await appendResults(options.results, PREAMBLE, markdown);
  } finally {
    await db.end();
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await feeds.close();
    await rm(config, { force: true });
    await adminQuery(admin, [`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`]);
  }
}

const PREAMBLE = `# Soak (\`npm run bench -- soak\`)

Feeds (a local server with real recorded payloads that change every minute), the scheduler and rule
evaluation, and API traffic (events, lists, a list, activations, feed health, a partner's CSV export)
together against one \`asp start\` on the server back end. Goals: 0 errors, p99 flat over time, no RSS
growth. See bench/README.md.
`;

/** Per minute of the load. */
interface Minute {
  requests: number;
  errors: number;
  latencies: number[];
  rssMiB: number;
  feedRuns: number;
  feedFailures: number;
}

async function soak(
  base: string, requests: [string, string][], pid: number, db: pg.Client, options: Options, engine: { errors: string[] },
): Promise<{ minutes: Minute[]; slope: number | null }> {
  const start = performance.now();
  const end = start + options.minutes * 60_000;
  const minutes: Minute[] = Array.from({ length: options.minutes }, () => ({ requests: 0, errors: 0, latencies: [], rssMiB: 0, feedRuns: 0, feedFailures: 0 }));
  const rss: [number, number][] = [];
  const minuteOf = (t: number) => Math.min(options.minutes - 1, Math.floor((t - start) / 60_000));
  let next = 0;
  const interval = (1000 * options.workers) / options.rate;
  const worker = async () => {
    while (performance.now() < end) {
      const began = performance.now();
      const [route, key] = requests[next++ % requests.length];
      const minute = minutes[minuteOf(began)];
      try {
        const response = await fetch(`${base}${route}`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(30_000) });
        await response.arrayBuffer();
        if (!response.ok) minute.errors++;
      } catch {
        minute.errors++;
      }
      minute.requests++;
      minute.latencies.push(performance.now() - began);
      await sleep(Math.max(0, interval - (performance.now() - began)));
    }
  };
  const sampler = (async () => {
    let lastMinute = -1;
    while (performance.now() < end) {
      const now = performance.now();
      const mib = await rssMiB(pid);
      rss.push([(now - start) / 60_000, mib]);
      const minute = minuteOf(now);
      minutes[minute].rssMiB = mib;
      if (minute !== lastMinute) {
        lastMinute = minute;
        log(`minute ${minute + 1}/${options.minutes}: RSS ${mib.toFixed(0)} MiB, engine errors so far ${engine.errors.length}`);
      }
      await sleep(Math.min(5000, Math.max(0, end - performance.now())));
    }
  })();
  const wallStart = Date.now();
  await Promise.all([...Array.from({ length: options.workers }, worker), sampler]);
  const { rows } = await db.query<{ minute: number; runs: number; failed: number }>(
    `SELECT floor(extract(epoch FROM finished_at - $1::timestamptz) / 60)::int AS minute, count(*)::int AS runs, count(*) FILTER (WHERE status = 'failed')::int AS failed
       FROM feed_runs WHERE finished_at >= $1::timestamptz GROUP BY 1 ORDER BY 1`,
    [new Date(wallStart)],
  );
  for (const r of rows) if (minutes[r.minute]) Object.assign(minutes[r.minute], { feedRuns: r.runs, feedFailures: r.failed });
  return { minutes, slope: growthSlope(rss.filter(([t]) => t >= 1)) };
}

/** Least-squares slope of RSS (MiB) over time (minutes); null with fewer than three samples. */
function growthSlope(samples: [number, number][]): number | null {
  if (samples.length < 3) return null;
  const n = samples.length;
  const mt = samples.reduce((s, [t]) => s + t, 0) / n;
  const mr = samples.reduce((s, [, r]) => s + r, 0) / n;
  const cov = samples.reduce((s, [t, r]) => s + (t - mt) * (r - mr), 0);
  const vt = samples.reduce((s, [t]) => s + (t - mt) ** 2, 0);
  return vt === 0 ? null : cov / vt;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

async function report(options: Options, started: Date, minutes: Minute[], slope: number | null, engine: { errors: string[]; warnings: number }, hits: Map<string, number>): Promise<string> {
  const machine = await describeMachine();
  const all = minutes.flatMap((m) => m.latencies);
  const requests = minutes.reduce((s, m) => s + m.requests, 0);
  const apiErrors = minutes.reduce((s, m) => s + m.errors, 0);
  const feedRuns = minutes.reduce((s, m) => s + m.feedRuns, 0);
  const feedFailures = minutes.reduce((s, m) => s + m.feedFailures, 0);
  const errors = apiErrors + feedFailures + engine.errors.length;
  const p99s = minutes.map((m) => percentile(m.latencies, 99));
  const lines = [
    `## ${fmtStarted(started)}: ${options.minutes} min, ${options.workers} clients at ${options.rate} requests/s`,
    '',
    machineLine(machine),
    `- Load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')} (numbers taken while other work loads the machine are not comparable)`,
    ...(options.note ? [`- Note: ${options.note}`] : []),
    `- Requests: ${requests.toLocaleString('en-US')}, p50 ${percentile(all, 50).toFixed(0)} ms, p99 ${percentile(all, 99).toFixed(0)} ms, max ${Math.max(0, ...all).toFixed(0)} ms`,
    `- Feed fetches served: ${[...hits].map(([route, n]) => `${route} ${n}`).join(', ')}; feed runs finished: ${feedRuns}`,
    `- Errors: ${errors} (API ${apiErrors}, failed feed runs ${feedFailures}, engine error log lines ${engine.errors.length}; warnings ${engine.warnings}) — goal 0: ${errors === 0 ? 'met' : 'NOT met'}`,
    `- RSS of the server process: ${minutes[0].rssMiB.toFixed(0)} MiB after minute 1, ${minutes.at(-1)!.rssMiB.toFixed(0)} MiB at the end; growth slope after the first minute ${slope === null ? 'n/a (too short)' : `${slope.toFixed(2)} MiB/min`}`,
    `- p99 per minute: first ${p99s[0].toFixed(0)} ms, last ${p99s.at(-1)!.toFixed(0)} ms, highest ${Math.max(...p99s).toFixed(0)} ms`,
    ...engine.errors.slice(0, 5).map((e) => `  - engine error: \`${e}\``),
    '',
    '| minute | requests | errors | p50 ms | p99 ms | max ms | RSS MiB | feed runs | failed runs |',
    '|---|---|---|---|---|---|---|---|---|',
    ...minutes.map((m, i) =>
      `| ${i + 1} | ${m.requests} | ${m.errors} | ${percentile(m.latencies, 50).toFixed(0)} | ${percentile(m.latencies, 99).toFixed(0)} | ${Math.max(0, ...m.latencies).toFixed(0)} | ${m.rssMiB.toFixed(0)} | ${m.feedRuns} | ${m.feedFailures} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

/** Waits for the demo's draft list (the drought the VCI feed reports), approves and releases it. */
async function approvedAndReleasedList(base: string, coordinatorKey: string, approverKey: string): Promise<number> {
  let lists: { id: number; entriesSha256: string }[] = [];
  for (let attempt = 0; attempt < 600 && lists.length === 0; attempt++) {
    const response = await fetch(`${base}/api/lists`, { headers: { authorization: `Bearer ${coordinatorKey}` } });
    lists = ((await response.json()) as { lists: typeof lists }).lists;
    if (lists.length === 0) await sleep(500);
  }
  if (lists.length === 0) throw new Error('no draft payment list appeared: did the VCI feed run?');
  const post = async (route: string, body: unknown) => {
    const response = await fetch(`${base}${route}`, {
      method: 'POST', headers: { authorization: `Bearer ${approverKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`POST ${route}: ${response.status} ${await response.text()}`);
  };
  // The approver names the content it reviewed, as the dashboard does.
  await post(`/api/lists/${lists[0].id}/approve`, { sha256: lists[0].entriesSha256 });
  await post(`/api/lists/${lists[0].id}/release`, { partnerId: 'demo-wfp', purpose: 'soak bench', expiresOn: '2099-12-31' });
  return lists[0].id;
}

function feedsYaml(base: string): string {
  const feed = (name: string, adapter: string, route: string, schedule: string) =>
    `  - name: ${name}\n    adapter: ${adapter}\n    url: ${base}${route}\n    schedule: "${schedule}"\n    options: { retries: 0, timeoutMs: 20000 }\n`;
  return `feeds:\n${feed('soak-usgs', 'usgs', '/usgs.geojson', '*/20 * * * * *')}${feed('soak-gdacs', 'gdacs', '/gdacs.xml', '*/30 * * * * *')}${feed('soak-vci', 'indicators', '/vci.csv', '15,45 * * * * *')}`;
}

/**
 * The feed server: recorded payloads, changed by the minute since `since` so that new versions
 * and values keep arriving; an ETag on each answer so that an unchanged payload is a 304.
 */
async function startFeedServer(since: Date): Promise<{ url: string; hits: Map<string, number>; close(): Promise<void> }> {
  const usgs = JSON.parse(await readFile(path.join(sharedFeeds, 'usgs/summary_significant_month_2023-10-11.geojson'), 'utf8')) as {
    metadata: { generated: number };
    features: { properties: { updated: number; mag: number } }[];
  };
  const gdacs = await readFile(path.join(sharedFeeds, 'gdacs/rss_2019-12-30_gdacs-rss-24h.xml'));
  const vci = await readFile(path.join(root, 'data/demo/feeds/vci3m-districts.csv'), 'utf8');
  const latest = vci.trim().split('\n').filter((l) => l.startsWith('XD02001,')).at(-1)!;
  const payloads: Record<string, (minute: number) => [string, Buffer | string]> = {
    '/usgs.geojson': (minute) => {
      const copy = structuredClone(usgs);
      // One event is revised each minute (a new version), as USGS revises magnitudes.
      const event = copy.features[minute % copy.features.length];
      event.properties.updated += 60_000 * (minute + 1);
      event.properties.mag = Math.round((event.properties.mag + 0.1 * ((minute % 3) - 1)) * 10) / 10;
      copy.metadata.generated = since.getTime() + 60_000 * minute;
      return ['application/geo+json', JSON.stringify(copy)];
    },
    '/gdacs.xml': () => ['application/rss+xml', gdacs],
    '/vci.csv': (minute) => {
      const fields = latest.split(',');
      fields[4] = minute % 2 === 0 ? '46.6' : '6.1';
      return ['text/csv', vci.replace(latest, fields.join(','))];
    },
  };
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const route = new URL(req.url ?? '/', 'http://x').pathname;
    const payload = payloads[route];
    hits.set(route, (hits.get(route) ?? 0) + 1);
    if (!payload) return void res.writeHead(404).end();
    const [type, body] = payload(Math.floor((Date.now() - since.getTime()) / 60_000));
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
    res.writeHead(200, { 'content-type': type, etag }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
