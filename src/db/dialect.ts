import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type { RawConnection, RawPool } from './raw.ts';

/**
 * A Kysely dialect over a {@link RawPool}: PostgreSQL's compiler and introspector, our own driver,
 * so that the pg pool and embedded PGlite run the very same queries.
 *
 * ```ts
 * const db = new Kysely<Schema>({ dialect: new RawPoolDialect(pool) })
 * ```
 */
export class RawPoolDialect implements Dialect {
  constructor(private readonly acquire: () => Promise<RawConnection>) {}
  static forPool(pool: RawPool): RawPoolDialect {
    return new RawPoolDialect(() => pool.connect());
  }
  /** A dialect that always hands out one already-held connection (and never releases it). */
  static forConnection(connection: RawConnection): RawPoolDialect {
    const held: RawConnection = { ...connection, release: () => {} };
    return new RawPoolDialect(async () => held);
  }
  createDriver(): Driver {
    return new RawPoolDriver(this.acquire);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createAdapter() {
    return new PostgresAdapter();
  }
  createIntrospector(db: Kysely<any>) {
    return new PostgresIntrospector(db);
  }
}

class RawPoolDriver implements Driver {
  constructor(private readonly acquire: () => Promise<RawConnection>) {}
  async init() {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return new RawKyselyConnection(await this.acquire());
  }
  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    const parts = ['begin'];
    if (settings.isolationLevel) parts.push(`isolation level ${settings.isolationLevel}`);
    if (settings.accessMode) parts.push(settings.accessMode);
    await connection.executeQuery(CompiledQuery.raw(parts.join(' ')));
  }
  async commitTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }
  async rollbackTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }
  async releaseConnection(connection: DatabaseConnection) {
    (connection as RawKyselyConnection).raw.release();
  }
  async destroy() {}
}

class RawKyselyConnection implements DatabaseConnection {
  constructor(readonly raw: RawConnection) {}
  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.raw.query<R>(compiled.sql, compiled.parameters);
    const isWrite = /^\s*(insert|update|delete|merge)/i.test(compiled.sql);
    return isWrite
      ? { rows: result.rows, numAffectedRows: BigInt(result.rowCount) }
      : { rows: result.rows };
  }
  // Exports stream with COPY (see exports/), so row streaming through Kysely is not offered.
  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streamQuery is not supported; use COPY for bulk output');
  }
}
