import type { Readable } from 'node:stream';

/** One row-returning statement's outcome, the same shape on both back ends. */
export interface RawResult<R = Record<string, unknown>> {
  rows: R[];
  rowCount: number;
}

/**
 * A single database connection, the narrowest thing the rest of the engine needs:
 * parameterised queries plus bulk COPY in and out. Both back ends (pg and PGlite) provide it.
 */
export interface RawConnection {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<RawResult<R>>;
  /**
   * `COPY table (...) FROM STDIN ...`, fed from a byte stream; returns the number of rows copied.
   * A failure is a {@link CopyError} naming the 1-based line of the input (as an editor counts
   * lines, header included) when PostgreSQL says where.
   */
  copyFrom(copySql: string, source: Readable | AsyncIterable<Buffer | string>): Promise<number>;
  /**
   * `COPY (SELECT …) TO STDOUT …`: hands the output to `sink` chunk by chunk, waiting for each
   * (so a slow reader holds the query). On the server the rows
   * stream; on the embedded back end the whole output is one blob in memory, so the caller bounds
   * what one COPY selects. If `sink` throws, the connection is given up (it cannot leave a COPY
   * half-read): the transaction ends with it.
   */
  copyTo(copySql: string, sink: (chunk: Buffer) => Promise<void>): Promise<void>;
  release(): void;
}

/** Hands out connections; the embedded back end has exactly one and serialises its users. */
export interface RawPool {
  readonly backend: Backend;
  connect(): Promise<RawConnection>;
  end(): Promise<void>;
}

export type Backend = 'server' | 'embedded';

/** A COPY that failed on a given line of its input (1-based, physical lines, header included). */
export class CopyError extends Error {
  constructor(
    message: string,
    readonly line: number | undefined,
  ) {
    super(message);
    this.name = 'CopyError';
  }
}

/**
 * PostgreSQL reports a COPY failure's place as `COPY t, line N...` in the error's `where`; in CSV
 * mode N counts physical lines, line breaks inside quoted fields included.
 */
export function copyLineOf(error: unknown): number | undefined {
  const where = (error as { where?: string })?.where ?? '';
  const match = /\bline (\d+)/.exec(where);
  return match ? Number(match[1]) : undefined;
}
