import type { Store } from '../db/store.ts';
import type { ConfiguredRegistry } from './registries-config.ts';

export interface RegistryStatus {
  name: string;
  kind: 'dci' | 'openimis';
  schedule: string | null;
  enabled: boolean;
  lastPull: {
    id: number;
    startedAt: Date;
    finishedAt: Date | null;
    mode: 'full' | 'delta';
    status: 'running' | 'success' | 'failed';
    counts: Record<string, number>;
  } | null;
  /** Where the next delta starts: the cursor of the last successful pull. */
  cursor: Date | null;
  lastSuccessAt: Date | null;
  lastError: { at: Date; error: string } | null;
  /** Failed pulls since the last successful one. */
  consecutiveFailures: number;
}

interface Row {
  name: string;
  id: string | null;
  started_at: Date | null;
  finished_at: Date | null;
  mode: 'full' | 'delta' | null;
  status: 'running' | 'success' | 'failed' | null;
  counts: Record<string, number> | null;
  cursor: Date | null;
  success_at: Date | null;
  error_at: Date | null;
  error: string | null;
  failures: number;
}

/** Each configured registry with its last pull, cursor and last error: `asp registry status`. */
export async function registryStatus(store: Store, registries: ConfiguredRegistry[]): Promise<RegistryStatus[]> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<Row>(
      `SELECT r.name, last.id, last.started_at, last.finished_at, last.mode, last.status, last.counts,
              ok.cursor, ok.finished_at AS success_at, bad.finished_at AS error_at, bad.error,
              (SELECT count(*)::int FROM registry_pulls f
                WHERE f.registry = r.name AND f.status = 'failed' AND f.id > coalesce(ok.id, 0)) AS failures
         FROM unnest($1::text[]) AS r(name)
         LEFT JOIN LATERAL (SELECT * FROM registry_pulls p WHERE p.registry = r.name ORDER BY p.id DESC LIMIT 1) last ON true
         LEFT JOIN LATERAL (SELECT * FROM registry_pulls p WHERE p.registry = r.name AND p.status = 'success' ORDER BY p.id DESC LIMIT 1) ok ON true
         LEFT JOIN LATERAL (SELECT * FROM registry_pulls p WHERE p.registry = r.name AND p.status = 'failed' ORDER BY p.id DESC LIMIT 1) bad ON true`,
      [registries.map((r) => r.name)],
    ));
  const byName = new Map(rows.map((row) => [row.name, row]));
  return registries.map((registry) => {
    const row = byName.get(registry.name)!;
    return {
      name: registry.name,
      kind: registry.kind,
      schedule: registry.schedule ?? null,
      enabled: registry.enabled,
      lastPull: row.id === null ? null : {
        id: Number(row.id), startedAt: new Date(row.started_at!), finishedAt: row.finished_at && new Date(row.finished_at),
        mode: row.mode!, status: row.status!, counts: row.counts ?? {},
      },
      cursor: row.cursor && new Date(row.cursor),
      lastSuccessAt: row.success_at && new Date(row.success_at),
      lastError: row.error_at ? { at: new Date(row.error_at), error: row.error ?? '' } : null,
      consecutiveFailures: row.failures,
    };
  });
}

/** One line per registry, as `asp feeds status` shows feeds. */
export function describeRegistryStatus(status: RegistryStatus): string {
  const pull = status.lastPull;
  const counts = pull ? Object.entries(pull.counts).map(([k, v]) => `${v} ${k}`).join(', ') : '';
  return [
    `${status.name} (${status.kind}${status.enabled ? '' : ', disabled'})`,
    status.schedule ? `schedule ${status.schedule}` : 'not scheduled',
    pull ? `last pull #${pull.id} ${pull.startedAt.toISOString()} ${pull.mode} ${pull.status}${counts ? ` (${counts})` : ''}` : 'never pulled',
    `cursor ${status.cursor?.toISOString() ?? 'none (next pull is full)'}`,
    status.consecutiveFailures ? `${status.consecutiveFailures} failure(s), last: ${status.lastError?.error}` : status.lastError ? `last error ${status.lastError.at.toISOString()}: ${status.lastError.error}` : 'ok',
  ].join(' · ');
}
