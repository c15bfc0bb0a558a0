import { sql } from 'kysely';
import type { Store } from '../db/store.ts';

export interface FeedHealth {
  name: string;
  adapter: string;
  url: string;
  schedule: string;
  enabled: boolean;
  lastRunAt: Date | null;
  lastSuccessAt: Date | null;
  lastNewDataAt: Date | null;
  lastErrorAt: Date | null;
  lastError: string | null;
  consecutiveFailures: number;
  staleAfterMinutes: number;
  /** No new data for longer than the feed's staleAfterMinutes (or never any). */
  stale: boolean;
  quarantined: number;
}

/** Each configured feed's health, for `asp feeds status` and `GET /api/feeds`. */
export async function feedHealth(store: Store, now: Date = new Date()): Promise<FeedHealth[]> {
  const rows = await sql<FeedHealth>`
    SELECT f.name, f.adapter, f.url, f.schedule, f.enabled,
           f.last_run_at AS "lastRunAt", f.last_success_at AS "lastSuccessAt",
           f.last_new_data_at AS "lastNewDataAt", f.last_error_at AS "lastErrorAt", f.last_error AS "lastError",
           f.consecutive_failures AS "consecutiveFailures", f.stale_after_minutes AS "staleAfterMinutes",
           (f.last_new_data_at IS NULL OR f.last_new_data_at < ${now}::timestamptz - make_interval(mins => f.stale_after_minutes)) AS stale,
           (SELECT count(*)::int FROM quarantine q JOIN feed_runs r ON r.id = q.run_id WHERE r.feed_name = f.name) AS quarantined
      FROM feeds f ORDER BY f.name`.execute(store.db);
  return rows.rows;
}

export interface QuarantineEntry {
  id: number;
  source: string;
  feed: string | null;
  url: string | null;
  location: string;
  reason: string;
  createdAt: Date;
}

/** What was refused, newest first: `asp feeds quarantine`. */
export async function listQuarantine(store: Store, limit = 200): Promise<QuarantineEntry[]> {
  const rows = await sql<QuarantineEntry>`
    SELECT q.id, q.source, r.feed_name AS feed, coalesce(p.source_url, r.url) AS url, q.location, q.reason,
           q.created_at AS "createdAt"
      FROM quarantine q
      LEFT JOIN feed_runs r ON r.id = q.run_id
      LEFT JOIN raw_payloads p ON p.id = q.payload_id
     ORDER BY q.id DESC LIMIT ${limit}`.execute(store.db);
  return rows.rows;
}
