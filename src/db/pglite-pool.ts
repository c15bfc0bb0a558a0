import { mkdirSync } from 'node:fs';
import { PGlite, types } from '@electric-sql/pglite';
import { postgis } from '@electric-sql/pglite-postgis';
import { lockDataDir } from './data-dir-lock.ts';
import { CopyError, copyLineOf, type RawConnection, type RawPool } from './raw.ts';

/** Rows are sent to PGlite's COPY in blobs of about this size, so a file is never held whole. */
const COPY_CHUNK_BYTES = 8 * 1024 * 1024;
/** COPY output is handed on in pieces of this size, as a socket would deliver it on the server. */
const COPY_OUT_PIECE_BYTES = 64 * 1024;

/**
 * The embedded back end: PGlite (WASM PostgreSQL) with PostGIS, persisted in `dataDir`
 * (or in memory when `dataDir` is undefined).
 *
 * PGlite is a single connection, so `connect()` hands it to one user at a time: a transaction
 * holds it from BEGIN to COMMIT and everybody else waits in line.
 */
export async function createPglitePool(dataDir: string | undefined): Promise<RawPool> {
  let unlock = () => {};
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    unlock = lockDataDir(dataDir);
  }
  let db: PGlite;
  try {
    db = await PGlite.create({
      dataDir,
      extensions: { postgis },
      parsers: { [types.INT8]: (v: string) => Number(v), [types.NUMERIC]: (v: string) => Number(v) },
    });
  } catch (error) {
    unlock();
    throw error;
  }
  let queue: Promise<void> = Promise.resolve();

  const connection = (release: () => void): RawConnection => ({
    async query(sql, params = []) {
      const result = await db.query<Record<string, unknown>>(sql, params as unknown[]);
      return { rows: result.rows as never[], rowCount: result.affectedRows ?? result.rows.length };
    },
    async copyFrom(copySql, source) {
      // PGlite reads COPY input from a virtual '/dev/blob'; feed it in chunks cut at record
      // boundaries so the whole file never sits in memory.
      const fromBlob = copySql.replace(/\bFROM\s+STDIN\b/i, "FROM '/dev/blob'");
      const withoutHeader = fromBlob.replace(/HEADER\s+(true|on)/i, 'HEADER false');
      let copied = 0;
      let linesBefore = 0;
      let first = true;
      for await (const chunk of recordChunks(source, COPY_CHUNK_BYTES)) {
        const sql = first ? fromBlob : withoutHeader;
        first = false;
        try {
          const result = await db.query(sql, [], { blob: new Blob([chunk]) });
          copied += result.affectedRows ?? 0;
        } catch (error) {
          // Line numbers restart in every chunk: add the lines of the chunks before it.
          const line = copyLineOf(error);
          throw new CopyError((error as Error).message, line === undefined ? undefined : linesBefore + line);
        }
        linesBefore += countNewlines(chunk);
      }
      return copied;
    },
    async copyTo(copySql, sink) {
      // PGlite writes COPY output to a virtual '/dev/blob', returned whole: callers bound its size.
      const toBlob = copySql.replace(/\bTO\s+STDOUT\b/i, "TO '/dev/blob'");
      const result = await db.query(toBlob);
      if (result.blob) {
        const bytes = Buffer.from(await result.blob.arrayBuffer());
        for (let at = 0; at < bytes.length; at += COPY_OUT_PIECE_BYTES) await sink(bytes.subarray(at, at + COPY_OUT_PIECE_BYTES));
      }
    },
    release,
  });

  return {
    backend: 'embedded',
    connect() {
      let release!: () => void;
      const mine = new Promise<void>((resolve) => (release = resolve));
      const ready = queue;
      queue = queue.then(() => mine);
      let released = false;
      return ready.then(() =>
        connection(() => {
          if (!released) {
            released = true;
            release();
          }
        }),
      );
    },
    async end() {
      await queue;
      try {
        await db.close();
      } finally {
        unlock();
      }
    },
  };
}

/**
 * Re-chunks a CSV byte stream into pieces of roughly `size` bytes that end on a record boundary:
 * a newline outside double quotes (RFC 4180 escapes a quote by doubling it, which keeps parity).
 */
export async function* recordChunks(
  source: AsyncIterable<Buffer | string>,
  size: number,
): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let inQuotes = false;
  for await (const piece of source) {
    const buf = typeof piece === 'string' ? Buffer.from(piece) : piece;
    let start = 0;
    let lastBoundary = -1;
    for (let i = 0; i < buf.length; i++) {
      const byte = buf[i];
      if (byte === 0x22) inQuotes = !inQuotes;
      else if (byte === 0x0a && !inQuotes) lastBoundary = i;
    }
    if (pendingBytes + buf.length >= size && lastBoundary >= 0) {
      pending.push(buf.subarray(start, lastBoundary + 1));
      yield Buffer.concat(pending);
      start = lastBoundary + 1;
      pending = [];
      pendingBytes = 0;
    }
    if (start < buf.length) {
      pending.push(buf.subarray(start));
      pendingBytes += buf.length - start;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending);
}

function countNewlines(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) n++;
  return n;
}
