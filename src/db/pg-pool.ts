import pg from 'pg';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFromStream, to as copyToStream } from 'pg-copy-streams';
import { CopyError, copyLineOf, type RawConnection, type RawPool } from './raw.ts';

// int8 and numeric come back as JS numbers on both back ends: counts, ids and amounts here
// stay far below 2^53, and one representation keeps the two back ends interchangeable.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

/**
 * The server back end: a pg pool against PostgreSQL + PostGIS.
 *
 * ```ts
 * const pool = createPgPool('postgres://postgres@127.0.0.1/asp')
 * ```
 */
export function createPgPool(connectionString: string, max = 10): RawPool {
  const pool = new pg.Pool({ connectionString, max, application_name: 'asp-engine' });
  // An idle client's error (e.g. the server restarting) must not kill the process.
  pool.on('error', () => {});
  return {
    backend: 'server',
    async connect() {
      const client = await pool.connect();
      return wrapClient(client);
    },
    end: () => pool.end(),
  };
}

function wrapClient(client: pg.PoolClient): RawConnection {
  // A checked-out client has no pool listener: without ours, a server restart crashes the
  // process. The failed client is destroyed on release instead of going back to the pool.
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  return {
    async query(sql, params = []) {
      const result = await client.query(sql, params as unknown[]);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    },
    async copyFrom(copySql, source) {
      const sink = client.query(copyFromStream(copySql));
      const input = source instanceof Readable ? source : Readable.from(source);
      try {
        await pipeline(input, sink);
      } catch (error) {
        throw new CopyError((error as Error).message, copyLineOf(error));
      }
      return Number(sink.rowCount ?? 0);
    },
    async copyTo(copySql, sink) {
      const rows = client.query(copyToStream(copySql));
      for await (const chunk of rows) {
        try {
          await sink(chunk as Buffer);
        } catch (error) {
          // A COPY out cannot be stopped midway on the protocol: close the connection, which ends
          // the statement and its transaction on the server, and drop the client on release.
          broken ??= error as Error;
          (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
          throw error;
        }
      }
    },
    release: () => {
      // The pooled client is handed out again: drop our listener so they do not pile up.
      client.off('error', onError);
      client.release(broken);
    },
  };
}
