import type { Store } from '../db/store.ts';
import { log } from '../log.ts';
import { dciRegistryOf, openImisOptionsOf } from './configured-pull.ts';
import type { DciSender } from './dci/messages.ts';
import { pullDci } from './dci/pull.ts';
import { engineSender } from './dci/sender.ts';
import { pullOpenImis } from './openimis/pull.ts';
import { finishPull, lastCursor, startPull } from './pulls.ts';
import type { ConfiguredRegistry } from './registries-config.ts';

export interface ScheduledPullOutcome {
  registry: string;
  kind: 'dci' | 'openimis';
  status: 'success' | 'failed';
  /** The registry_pulls row. */
  pull: number;
  mode: 'full' | 'delta' | null;
  counts: Record<string, number>;
  error: string | null;
}

export interface ScheduledPullOptions {
  /** Who the pull is recorded as (default scheduler). */
  actor?: string;
  /** The engine as a DCI sender (default: its configured identity). */
  sender?: () => Promise<DciSender>;
}

/**
 * One scheduled pull of a configured registry: a delta from its last cursor (a full pull the first
 * time). It never throws: a failure is recorded as a failed pull, which leaves the cursor where it
 * was, so the next run asks for the same changes again. Logged with counts only, never a household
 * or a credential.
 */
export async function pullConfiguredRegistry(store: Store, registry: ConfiguredRegistry, options: ScheduledPullOptions = {}): Promise<ScheduledPullOutcome> {
  const actor = options.actor ?? 'scheduler';
  const lastBefore = await lastPullId(store, registry.name);
  const context = { registry: registry.name, kind: registry.kind };
  log.info(context, 'scheduled registry pull starting');
  try {
    const report = registry.kind === 'dci'
      ? await pullDci(store, dciRegistryOf(registry), await (options.sender ?? engineSender)(), { actor, programme: registry.programme, skipInvalid: registry.skip_invalid })
      : await pullOpenImis(store, openImisOptionsOf(registry, actor));
    const counts = { rows: report.rows, inserted: report.inserted, updated: report.updated, unchanged: report.unchanged, rejected: report.rejected, enrolled: report.enrolled };
    log.info({ ...context, pull: report.pull, mode: report.mode, ...counts }, 'scheduled registry pull done');
    return { ...context, status: 'success', pull: report.pull, mode: report.mode, counts, error: null };
  } catch (error) {
    const message = (error as Error).message;
    // A pull refused before it began (openIMIS's login, a missing secret) left no record: one is
    // made, so that `asp registry status` shows the failure.
    let pull = await lastPullId(store, registry.name);
    if (pull === lastBefore) {
      const since = (await lastCursor(store, registry.name)) ?? null;
      pull = await startPull(store, { registry: registry.name, kind: registry.kind, url: registry.url, mode: since ? 'delta' : 'full', since, actor });
      await finishPull(store, pull, { status: 'failed', error: message });
    }
    // The error names what failed (URL, status, field), never the body or a secret (the clients scrub them).
    log.error({ ...context, pull, err: { message } }, 'scheduled registry pull failed; the next run retries');
    return { ...context, status: 'failed', pull: pull!, mode: null, counts: {}, error: message };
  }
}

async function lastPullId(store: Store, registry: string): Promise<number | null> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ id: string | null }>(`SELECT max(id) AS id FROM registry_pulls WHERE registry = $1`, [registry]));
  return rows[0].id === null ? null : Number(rows[0].id);
}

/**
 * Scheduled pulls a dead leader left `running`, marked failed ("interrupted"): only a leader pulls on
 * schedule, and it calls this before its first pull, so none of them is still under way. Their
 * import rolled back with the process; the cursor stays where the last successful pull left it.
 */
export async function markInterruptedPulls(store: Store): Promise<number> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query(
      `UPDATE registry_pulls SET status = 'failed', finished_at = now(),
              error = 'interrupted: the process running it ended before it finished'
        WHERE status = 'running' AND actor = 'scheduler'
       RETURNING id`,
    ));
  if (rows.length > 0) log.warn({ pulls: rows.length }, 'scheduled registry pulls interrupted by a crash marked failed');
  return rows.length;
}
