import { InvalidArgumentError, type Command } from 'commander';
import { auditKeyFile, loadAuditKey, useAuditKey } from '../audit/signing-key.ts';
import { loadConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { openStore, type Store } from '../db/store.ts';

export interface GlobalOptions {
  db?: string;
  dataDir?: string;
  json?: boolean;
}

/** The global options (`--db`, `--data-dir`, `--json`) as a subcommand's action sees them. */
export const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();

/** A commander parser of ids, counts and versions (1, 2, …). */
export const wholeNumber = (what: string) => (value: string): number => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${what} is a whole number of at least 1`);
  return Number(value);
};

/** `--since`: an ISO date or date-time. */
export const sinceInstant = (value: string): Date => {
  const at = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(at.getTime())) throw new InvalidArgumentError('--since is an ISO date or date-time, e.g. 2026-11-30T00:00:00Z');
  return at;
};

/**
 * Opens the database the way every command does: `--db URL`, else `DATABASE_URL`, else the
 * embedded database in `--data-dir` / `ASP_DATA_DIR` (default `.asp-data`); then migrates, so
 * that any command works on a fresh database. The deployment's audit key, if there is one, is
 * loaded too, so that every audit row the command or server writes is signed.
 */
export async function openMigratedStore(options: GlobalOptions): Promise<Store> {
  const config = loadConfig();
  useAuditKey(await loadAuditKey(auditKeyFile(config, options.dataDir), { required: config.ASP_AUDIT_KEY_FILE !== undefined }));
  const store = await openStore({
    url: options.db ?? config.DATABASE_URL,
    dataDir: options.dataDir ?? config.ASP_DATA_DIR,
  });
  try {
    await migrate(store);
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/** Runs `work` with an open store and always closes it (PGlite must close to persist cleanly). */
export async function withStore<T>(options: GlobalOptions, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openMigratedStore(options);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
