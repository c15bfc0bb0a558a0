import type { Store } from '../../db/store.ts';
import { importRecords } from '../import-records.ts';
import type { RegistryImportReport } from '../import-registry.ts';
import { finishPull, lastCursor, startPull } from '../pulls.ts';
import type { RecordSource } from '../record-source.ts';
import type { DciRegistry, DciSender } from './messages.ts';
import { syncSearch } from './search.ts';

/**
 * The next delta asks for groups with `last_updated` at or after this pull's start minus five
 * minutes. The margin covers the registry's clock running behind ours (signatures already allow a
 * minute of skew) and a change the registry committed late with an earlier `last_updated` while
 * we were reading. A group seen twice because of the margin is compared and left alone.
 */
export const CURSOR_MARGIN_MS = 5 * 60_000;

export interface DciPullOptions {
  /** Pull groups changed since then; default the last successful pull's cursor (a full pull the first time). */
  since?: Date;
  /** Pull everything even when an earlier pull left a cursor. */
  full?: boolean;
  programme?: string;
  skipInvalid?: boolean;
  onProgress?: (records: number, expected: number) => void;
  actor: string;
  /** How the records are read: sync/search (default) or async search with callbacks. */
  source?: (registry: DciRegistry, sender: DciSender, since: Date | null) => PullSource | Promise<PullSource>;
}

/** A source of records for a pull, with what to tidy once the import is over (stored pages). */
export type PullSource = RecordSource & { finished?: () => Promise<void> };

export interface DciPullReport extends RegistryImportReport {
  pull: number;
  mode: 'full' | 'delta';
  since: Date | null;
  cursor: Date;
}

/**
 * `asp registry pull dci URL`: reads the registry's groups into the registry in one import (all
 * or nothing), recorded in registry_pulls; a failed pull is recorded as failed and changes nothing.
 */
export async function pullDci(store: Store, registry: DciRegistry, sender: DciSender, options: DciPullOptions): Promise<DciPullReport> {
  const since = options.full ? null : (options.since ?? (await lastCursor(store, registry.name)) ?? null);
  const mode = since ? 'delta' : 'full';
  const startedAt = new Date();
  const pull = await startPull(store, { registry: registry.name, kind: 'dci', url: registry.url, mode, since, actor: options.actor });
  const cursor = new Date(startedAt.getTime() - CURSOR_MARGIN_MS);
  try {
    const source: PullSource = await (options.source ?? syncSearch)(registry, sender, since);
    const report = await importRecords(store, source, { programme: options.programme, skipInvalid: options.skipInvalid, onProgress: options.onProgress })
      .finally(() => source.finished?.());
    const { rows, inserted, updated, unchanged, rejected, enrolled } = report;
    await finishPull(store, pull, { status: 'success', counts: { rows, inserted, updated, unchanged, rejected, enrolled }, cursor });
    return { ...report, pull, mode, since, cursor };
  } catch (error) {
    await finishPull(store, pull, { status: 'failed', error: (error as Error).message });
    throw error;
  }
}
