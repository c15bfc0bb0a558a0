import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { projectRoot } from './paths.ts';

const asp = path.join(projectRoot, 'bin/asp.js');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How one SIGKILL went: whether the child was still working when it was killed. */
export interface KillOutcome {
  /** False when the command had already ended (the kill came too late to interrupt anything). */
  killed: boolean;
  /** Milliseconds from spawn to the kill. */
  atMs: number;
  output: string;
}

/**
 * Runs `asp ARGS` in a child and SIGKILLs it once `ready()` resolves true (polled every 5 ms)
 * and `delayMs` more have passed: a crash at a chosen point of a real command, not a mock.
 * If the child ends before the point is reached: throws (the point was never seen), or with
 * `endedFirst: 'report'` (a point in time that may come too late) reports `killed: false`.
 */
export async function killAspWhen(
  args: string[],
  env: Record<string, string>,
  ready: (elapsedMs: number) => Promise<boolean> | boolean,
  delayMs = 0,
  endedFirst: 'throw' | 'report' = 'throw',
): Promise<KillOutcome> {
  const started = Date.now();
  const child = spawn(process.execPath, [asp, ...args], { cwd: projectRoot, env: { ...process.env, LOG_LEVEL: 'warn', ...env } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => void (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => void (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let ended = false;
  void exited.then(() => (ended = true));
  while (!(await ready(Date.now() - started))) {
    if (ended && endedFirst === 'report') return { killed: false, atMs: Date.now() - started, output };
    if (ended) throw new Error(`asp ${args.join(' ')} ended (code ${child.exitCode}) before the kill point was reached:\n${output}`);
    await sleep(5);
  }
  if (delayMs > 0) await sleep(delayMs);
  const killed = !ended && child.kill('SIGKILL');
  const atMs = Date.now() - started;
  await exited;
  return { killed: killed && child.signalCode === 'SIGKILL', atMs, output };
}

/**
 * The server's view of a database's other sessions, through the maintenance database: a killed
 * client's transaction is only rolled back once its backend notices, so tests wait for that.
 */
export function serverSessions(adminUrl: string, database: string) {
  const client = new pg.Client({ connectionString: adminUrl });
  const connected = client.connect();
  return {
    /** True while a session of `database` has written in a transaction still open, its last statement matching `statement`. */
    async writing(statement: RegExp): Promise<boolean> {
      await connected;
      const { rows } = await client.query<{ query: string }>(
        `SELECT query FROM pg_stat_activity WHERE datname = $1 AND backend_xid IS NOT NULL AND xact_start IS NOT NULL`,
        [database],
      );
      return rows.some((r) => statement.test(r.query));
    },
    /** Waits until `database` has no session left (the killed client's backend has ended). */
    async drained(timeoutMs = 60_000): Promise<void> {
      await connected;
      const until = Date.now() + timeoutMs;
      for (;;) {
        const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [database]);
        if (rows[0].n === 0) return;
        if (Date.now() > until) throw new Error(`sessions of ${database} still open after ${timeoutMs} ms`);
        await sleep(20);
      }
    },
    close: async () => {
      await connected;
      await client.end();
    },
  };
}
