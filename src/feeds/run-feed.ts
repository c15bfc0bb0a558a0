import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';
import { log } from '../log.ts';
import { adapterFor, ADAPTER_NAMES } from './adapters/index.ts';
import { capLinksOf } from './adapters/cap.ts';
import type { FeedConfig } from './config.ts';
import { FetchError, fetchPayload, type FetchOptions } from './fetch.ts';
import { ingestPayload, type IngestSummary } from './ingest.ts';
import type { SourceName } from './model.ts';

export interface RunSummary {
  runId: number;
  feed: string | null;
  source: SourceName;
  url: string;
  status: 'success' | 'not_modified' | 'failed';
  payloads: number;
  duplicates: number;
  eventsAdded: number;
  versionsAdded: number;
  /** Versions already known that this run completed (e.g. a GDACS geometry for a known episode). */
  versionsUpdated: number;
  indicatorsAdded: number;
  quarantined: number;
  /** Whole payloads that could not be read (kept and quarantined). */
  payloadErrors: string[];
  error: string | null;
}

/** At most this many linked CAP alerts are followed from one index feed per run. */
const MAX_CAP_LINKS = 100;

/**
 * `asp ingest SOURCE FILE|URL`: one run of an adapter over one payload (a path or a URL).
 */
export async function ingestOnce(store: Store, source: string, target: string): Promise<RunSummary> {
  if (!adapterFor(source)) throw new UserError(`unknown source "${source}"; one of ${ADAPTER_NAMES.join(', ')}`);
  const url = /^(https?|file):/.test(target) ? target : pathToFileURL(path.resolve(target)).toString();
  if (url.startsWith('file:') && !existsSync(fileURLToPath(url))) throw new UserError(`${target}: no such file`);
  return runSource(store, source as SourceName, url, null, {});
}

/**
 * Runs left `running` by a process that died, marked failed with the reason "interrupted": every
 * scheduler run when a new leader takes over (only a leader runs them, and it calls this before its
 * first), and command runs older than `commandAfterSeconds` (longer than any run can take).
 */
export async function markInterruptedRuns(store: Store, options: { scheduler: boolean; commandAfterSeconds: number }): Promise<number> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query(
      `UPDATE feed_runs SET status = 'failed', finished_at = now(),
              error = 'interrupted: the process running it ended before it finished'
        WHERE status = 'running'
          AND ((runner = 'scheduler' AND $1::boolean) OR (runner = 'command' AND started_at <= now() - make_interval(secs => $2::float8)))
       RETURNING id`,
      [options.scheduler, options.commandAfterSeconds],
    ),
  );
  if (rows.length > 0) log.warn({ runs: rows.length }, 'feed runs interrupted by a crash marked failed');
  return rows.length;
}

/** One run of a configured feed: fetch (conditionally), ingest, and record the feed's health. */
export async function runFeed(store: Store, feed: FeedConfig, runner: 'scheduler' | 'command' = 'command'): Promise<RunSummary> {
  await syncFeeds(store, [feed]);
  const state = await store.db.selectFrom('feeds').select(['etag', 'last_modified']).where('name', '=', feed.name).executeTakeFirst();
  return runSource(store, feed.adapter, feed.url, feed, {
    runner,
    ...feed.options,
    etag: state?.etag ?? null,
    lastModified: state?.last_modified ?? null,
  });
}

async function runSource(
  store: Store,
  source: SourceName,
  url: string,
  feed: FeedConfig | null,
  fetchOptions: FetchOptions & { followCapLinks?: boolean; runner?: 'scheduler' | 'command' },
): Promise<RunSummary> {
  const adapter = adapterFor(source)!;
  const run = await store.db
    .insertInto('feed_runs')
    .values({ feed_name: feed?.name ?? null, source, url, status: 'running', runner: fetchOptions.runner ?? 'command' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const summary: RunSummary = {
    runId: run.id, feed: feed?.name ?? null, source, url, status: 'success', payloads: 0, duplicates: 0,
    eventsAdded: 0, versionsAdded: 0, versionsUpdated: 0, indicatorsAdded: 0, quarantined: 0, payloadErrors: [], error: null,
  };
  const add = (s: IngestSummary) => {
    summary.payloads++;
    if (s.duplicate) summary.duplicates++;
    summary.eventsAdded += s.eventsAdded;
    summary.versionsAdded += s.versionsAdded;
    summary.versionsUpdated += s.versionsUpdated;
    summary.indicatorsAdded += s.indicatorsAdded;
    summary.quarantined += s.quarantined;
    if (s.payloadError) summary.payloadErrors.push(s.payloadError);
  };
  let etag: string | null = null;
  let lastModified: string | null = null;
  try {
    const fetched = await fetchPayload(url, fetchOptions);
    if (fetched.status === 'not_modified') {
      summary.status = 'not_modified';
    } else {
      const fetchedAt = new Date();
      add(await ingestPayload(store, adapter, { source, bytes: fetched.bytes, url, contentType: fetched.contentType, fetchedAt, runId: run.id, bbox: feed?.bbox }));
      if (source === 'cap' && fetchOptions.followCapLinks && summary.payloadErrors.length === 0) {
        for (const link of followableLinks(fetched.bytes, url)) {
          try {
            const alert = await fetchPayload(link, { ...fetchOptions, etag: null, lastModified: null });
            if (alert.status === 'ok') {
              add(await ingestPayload(store, adapter, { source, bytes: alert.bytes, url: link, contentType: alert.contentType, runId: run.id, bbox: feed?.bbox }));
            }
          } catch (error) {
            // One unreachable alert does not fail the index; it is quarantined with the reason.
            summary.quarantined++;
            await store.db.insertInto('quarantine').values({ run_id: run.id, source, location: link, reason: (error as Error).message }).execute();
          }
        }
      }
      if (summary.payloadErrors.length > 0 && summary.payloads === summary.payloadErrors.length) {
        summary.status = 'failed';
        summary.error = `payload unreadable: ${summary.payloadErrors[0]}`;
      } else {
        // Only now: a validator saved before the payload is safely stored would turn the next
        // run into a 304 and lose it.
        etag = fetched.etag;
        lastModified = fetched.lastModified;
      }
    }
  } catch (error) {
    if (!(error instanceof FetchError)) {
      await finishRun(store, summary, 'failed', (error as Error).message, feed, etag, lastModified);
      throw error;
    }
    summary.status = 'failed';
    summary.error = error.message;
    // A payload over the size limit is a bad payload (exit 2 on the CLI), not a network failure.
    if (error.payloadProblem) summary.payloadErrors.push(error.message);
  }
  await finishRun(store, summary, summary.status, summary.error, feed, etag, lastModified);
  log.info({ ...summary, payloadErrors: summary.payloadErrors.length }, 'feed run finished');
  return summary;
}

/**
 * The CAP alerts an index links to, resolved against the index URL. Only links of the index's own
 * kind are followed (http(s) from a web feed): a remote feed must not make the engine read local
 * files or other schemes.
 */
function followableLinks(index: Buffer, indexUrl: string): string[] {
  const web = /^https?:/.test(indexUrl);
  return capLinksOf(index)
    .map((link) => {
      try {
        return new URL(link, indexUrl).toString();
      } catch {
        return null;
      }
    })
    .filter((link): link is string => link !== null && (web ? /^https?:/.test(link) : link.startsWith('file:')))
    .slice(0, MAX_CAP_LINKS);
}

async function finishRun(
  store: Store,
  summary: RunSummary,
  status: RunSummary['status'],
  error: string | null,
  feed: FeedConfig | null,
  etag: string | null,
  lastModified: string | null,
): Promise<void> {
  summary.status = status;
  summary.error = error;
  await store.db
    .updateTable('feed_runs')
    .set({
      finished_at: new Date(), status, error, payloads: summary.payloads, duplicates: summary.duplicates,
      events_added: summary.eventsAdded, versions_added: summary.versionsAdded,
      indicators_added: summary.indicatorsAdded, quarantined: summary.quarantined,
    })
    .where('id', '=', summary.runId)
    .execute();
  if (!feed) return;
  const newData = summary.versionsAdded + summary.versionsUpdated + summary.indicatorsAdded > 0;
  const failed = status === 'failed';
  await store.db
    .updateTable('feeds')
    .set({
      last_run_at: new Date(),
      ...(failed
        ? { last_error_at: new Date(), last_error: error, consecutive_failures: sql<number>`consecutive_failures + 1` }
        : { last_success_at: new Date(), consecutive_failures: 0 }),
      ...(newData ? { last_new_data_at: new Date() } : {}),
      ...(etag || lastModified ? { etag, last_modified: lastModified } : {}),
    })
    .where('name', '=', feed.name)
    .execute();
}

/** Records the configured feeds (their health columns stay). */
export async function syncFeeds(store: Store, feeds: FeedConfig[]): Promise<void> {
  for (const feed of feeds) {
    await store.db
      .insertInto('feeds')
      .values({
        name: feed.name, adapter: feed.adapter, url: feed.url, schedule: feed.schedule, enabled: feed.enabled,
        stale_after_minutes: feed.staleAfterMinutes, options: JSON.stringify(feed.options),
      })
      .onConflict((oc) =>
        oc.column('name').doUpdateSet((eb) => ({
          adapter: eb.ref('excluded.adapter'), url: eb.ref('excluded.url'), schedule: eb.ref('excluded.schedule'),
          enabled: eb.ref('excluded.enabled'), stale_after_minutes: eb.ref('excluded.stale_after_minutes'),
          options: eb.ref('excluded.options'),
        })),
      )
      .execute();
  }
}
