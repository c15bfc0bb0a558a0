import { Kysely } from 'kysely';
import { RawPoolDialect } from './dialect.ts';
import { createPgPool } from './pg-pool.ts';
import { createPglitePool } from './pglite-pool.ts';
import type { Backend, RawConnection, RawPool } from './raw.ts';
import type { Schema } from './schema.ts';

/** Inside a transaction: Kysely for ordinary queries and the raw connection for COPY. */
export interface Tx {
  db: Kysely<Schema>;
  raw: RawConnection;
}

/** The engine's handle on its database, whichever back end is behind it. */
export interface Store {
  readonly backend: Backend;
  readonly db: Kysely<Schema>;
  /** Runs `work` in one transaction on one connection; any throw rolls everything back. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * A connection of one's own, until released (e.g. to hold a session advisory lock). On the
   * embedded back end this blocks everybody else until released: use it only on the server.
   */
  connect(): Promise<RawConnection>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** A PostgreSQL URL: the server back end. Without it, the embedded one. */
  url?: string;
  /** Where the embedded database lives; undefined keeps it in memory. */
  dataDir?: string;
}

/**
 * Opens the database: a pg pool when a URL is given, otherwise embedded PGlite + PostGIS.
 *
 * ```ts
 * const store = await openStore({ url: process.env.DATABASE_URL, dataDir: '.asp-data' })
 * await store.transaction(async ({ db }) => db.insertInto('programmes').values(...).execute())
 * ```
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  const pool = options.url ? createPgPool(options.url) : await createPglitePool(options.dataDir);
  return storeOnPool(pool);
}

export function storeOnPool(pool: RawPool): Store {
  const db = new Kysely<Schema>({ dialect: RawPoolDialect.forPool(pool) });
  return {
    backend: pool.backend,
    db,
    async transaction(work) {
      const raw = await pool.connect();
      const txDb = new Kysely<Schema>({ dialect: RawPoolDialect.forConnection(raw) });
      try {
        await raw.query('begin');
        const result = await work({ db: txDb, raw });
        await raw.query('commit');
        return result;
      } catch (error) {
        await raw.query('rollback').catch(() => {});
        throw error;
      } finally {
        raw.release();
      }
    },
    connect: () => pool.connect(),
    async close() {
      await db.destroy();
      await pool.end();
    },
  };
}
