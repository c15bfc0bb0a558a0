import { audit } from '../audit/audit.ts';
import type { Store } from '../db/store.ts';

/**
 * The record of each pull from a live registry (table registry_pulls): started as `running`,
 * finished as `success` with its counts and the cursor the next delta starts from, or as `failed`
 * with the error. Each step is its own transaction, apart from the import's: a pull whose import
 * rolled back is still recorded as failed. Audited as `registry.pulled` with counts only, never
 * personal data.
 *
 * ```ts
 * const id = await startPull(store, { registry: 'sr', kind: 'dci', url, mode: 'delta', since, actor: 'cli' })
 * await finishPull(store, id, { status: 'success', counts: { inserted: 3 }, cursor })
 * ```
 */
export async function startPull(
  store: Store,
  pull: { registry: string; kind: 'dci' | 'openimis'; url: string; mode: 'full' | 'delta'; since: Date | null; actor: string },
): Promise<number> {
  return store.transaction(async ({ raw }) => {
    const { rows } = await raw.query<{ id: string }>(
      `INSERT INTO registry_pulls (registry, kind, url, mode, since, actor) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [pull.registry, pull.kind, withoutCredentials(pull.url), pull.mode, pull.since, pull.actor],
    );
    return Number(rows[0].id);
  });
}

export async function finishPull(
  store: Store,
  id: number,
  outcome: { status: 'success'; counts: Record<string, number>; cursor: Date } | { status: 'failed'; error: string },
): Promise<void> {
  await store.transaction(async ({ raw }) => {
    const success = outcome.status === 'success';
    const { rows } = await raw.query<{ registry: string; kind: string; url: string; mode: string; actor: string }>(
      `UPDATE registry_pulls
          SET status = $2, counts = $3::jsonb, cursor = $4, error = $5, finished_at = now()
        WHERE id = $1 AND status = 'running'
        RETURNING registry, kind, url, mode, actor`,
      [id, outcome.status, JSON.stringify(success ? outcome.counts : {}), success ? outcome.cursor : null, success ? null : outcome.error],
    );
    if (rows.length === 0) throw new Error(`registry pull ${id} is not running`);
    const pull = rows[0];
    await audit(raw, {
      actor: pull.actor,
      action: 'registry.pulled',
      subject: `registry_pull:${id}`,
      details: {
        registry: pull.registry, kind: pull.kind, url: pull.url, mode: pull.mode, status: outcome.status,
        ...(success ? { counts: outcome.counts, cursor: outcome.cursor.toISOString() } : {}),
      },
    });
  });
}

/** Where the next delta of `registry` starts: the cursor of its last successful pull. */
export async function lastCursor(store: Store, registry: string): Promise<Date | undefined> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ cursor: Date | string }>(
      `SELECT cursor FROM registry_pulls
        WHERE registry = $1 AND status = 'success' AND cursor IS NOT NULL
        ORDER BY started_at DESC, id DESC LIMIT 1`,
      [registry],
    ));
  return rows[0] ? new Date(rows[0].cursor) : undefined;
}

/** A URL as it may be recorded and audited: any `user:password@` in it is dropped. */
function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}
