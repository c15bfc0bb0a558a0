import type { Store } from '../../db/store.ts';
import type { SecretRef } from '../../interop/secrets.ts';
import { log } from '../../log.ts';
import { importRecords, type RegistryImportOptions, type RegistryImportReport } from '../import-registry.ts';
import { finishPull, lastCursor, startPull } from '../pulls.ts';
import { loadAreaCrosswalk } from './area-crosswalk.ts';
import { graphqlEndpoint, openImisClient } from './graphql-client.ts';
import { checkBenefitPlanId } from './group-beneficiaries.ts';
import { DEFAULT_JSON_EXT_KEYS, type JsonExtKeys } from './household-record.ts';
import { openImisRecords, type PullStats } from './openimis-records.ts';

export interface OpenImisPullOptions extends Pick<RegistryImportOptions, 'skipInvalid'> {
  /** The name pulls and their cursor are kept under (a configured registry's); default: URL, benefit plan and programme. */
  registry?: string;
  /** The openIMIS base URL, e.g. https://imis.example.org. */
  url: string;
  benefitPlan: string;
  /** Enrol the households in this programme; a beneficiary no longer active exits it. */
  programme?: string;
  /** A delta from this instant. Without it (and without `full`), from the last pull's cursor if any. */
  since?: Date;
  /** A full pull even when an earlier one left a cursor. */
  full?: boolean;
  username: string;
  password: SecretRef;
  pageSize?: number;
  registryId?: 'code' | 'uuid';
  jsonExtKeys?: Partial<JsonExtKeys>;
  /** Who pulls, for the pull record. */
  actor: string;
  /** Households read so far, and how many the registry announced (at least as many as read). */
  onProgress?: (households: number, expected: number) => void;
  /** For tests: per-request timeout and back-off. */
  timeoutMs?: number;
  backoffMs?: number;
}

export interface OpenImisPullReport extends RegistryImportReport {
  pull: number;
  mode: 'full' | 'delta';
  since: string | null;
  cursor: string | null;
  stats: PullStats;
}

/**
 * `asp registry pull openimis`: authenticates first (a refused password writes nothing, not even
 * a pull record), then streams the benefit plan's households through the CSV import's staging,
 * checks and upsert in one transaction, and records the pull with the cursor the next delta
 * starts from. The cursor is per registry name, or else per URL, benefit plan and programme.
 *
 * ```ts
 * await pullOpenImis(store, { url, benefitPlan, programme: 'CT', username: 'asp', password: { env: 'OPENIMIS_PASSWORD' }, actor: 'cli' })
 * ```
 */
export async function pullOpenImis(store: Store, options: OpenImisPullOptions): Promise<OpenImisPullReport> {
  const endpoint = graphqlEndpoint(options.url);
  checkBenefitPlanId(options.benefitPlan);
  const registry = options.registry ?? `openimis ${endpoint} benefit plan ${options.benefitPlan} programme ${options.programme ?? '-'}`;
  const since = options.full ? null : (options.since ?? (await lastCursor(store, registry)) ?? null);
  const client = openImisClient({ url: endpoint, username: options.username, password: options.password, timeoutMs: options.timeoutMs, backoffMs: options.backoffMs });
  await client.authenticate();
  const pulled = openImisRecords(client, {
    benefitPlan: options.benefitPlan,
    since: since ?? undefined,
    pageSize: options.pageSize ?? 100,
    mapping: { registryId: options.registryId ?? 'code', keys: jsonExtKeys(options.jsonExtKeys), crosswalk: await loadAreaCrosswalk(store) },
    enrolment: Boolean(options.programme),
  });
  const mode = since ? 'delta' : 'full';
  const pull = await startPull(store, { registry, kind: 'openimis', url: endpoint, mode, since, actor: options.actor });
  try {
    const report = await importRecords(store, pulled.source, { skipInvalid: options.skipInvalid, programme: options.programme, onProgress: options.onProgress });
    const stats = pulled.stats();
    const cursor = pulled.cursor() ?? new Date();
    await finishPull(store, pull, { status: 'success', counts: { ...numbers(report), pages: stats.pages, received: stats.received }, cursor });
    log.info({ endpoint, pull, mode, rows: report.rows, inserted: report.inserted, updated: report.updated, rejected: report.rejected, pages: stats.pages }, 'openIMIS pull done');
    if (stats.changedDuringPull) log.warn({ endpoint, pull }, 'the caseload changed during the pull; a later delta picks up what moved');
    return { ...report, pull, mode, since: since?.toISOString() ?? null, cursor: cursor.toISOString(), stats };
  } catch (error) {
    await finishPull(store, pull, { status: 'failed', error: (error as Error).message });
    throw error;
  }
}

/** The keys given replace the defaults for that field; the others keep theirs. */
function jsonExtKeys(given: Partial<JsonExtKeys> = {}): JsonExtKeys {
  const keys = { ...DEFAULT_JSON_EXT_KEYS };
  for (const field of Object.keys(keys) as (keyof JsonExtKeys)[]) if (given[field]?.length) keys[field] = given[field];
  return keys;
}

const numbers = (report: RegistryImportReport): Record<string, number> =>
  Object.fromEntries(Object.entries(report).filter((entry): entry is [string, number] => typeof entry[1] === 'number'));
