import { Migrator, type MigrationResult } from 'kysely/migration';
import { migrations } from '../../migrations/index.ts';
import type { Store } from './store.ts';

/**
 * Brings the schema up to date with `migrations/`. Safe to call on every start: applied
 * migrations are recorded and skipped.
 */
export async function migrate(store: Store): Promise<MigrationResult[]> {
  const migrator = new Migrator({ db: store.db, provider: { getMigrations: async () => migrations } });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error) {
    const failed = results.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${String((error as Error).message ?? error)}`);
  }
  return results;
}
