import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export interface FetchOptions {
  /** Per attempt. */
  timeoutMs?: number;
  /** Further attempts after the first, for network errors, timeouts, 429 and 5xx. */
  retries?: number;
  /** First back-off; doubled each retry, with up to 50 % random jitter added. */
  backoffMs?: number;
  maxBytes?: number;
  /** Validators from the last successful fetch, for a conditional request. */
  etag?: string | null;
  lastModified?: string | null;
}

export type FetchResult =
  | { status: 'ok'; bytes: Buffer; contentType: string | null; etag: string | null; lastModified: string | null; attempts: number }
  | { status: 'not_modified'; attempts: number };

/** A fetch that failed for good, after its retries; says why. */
export class FetchError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    /** The payload itself is the problem (over the size limit): the user's to fix, not the network's. */
    readonly payloadProblem = false,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

const DEFAULTS = { timeoutMs: 30_000, retries: 3, backoffMs: 1_000, maxBytes: 50 * 1024 * 1024 };

/**
 * Fetches a feed payload over HTTP(S), or reads a `file://` URL (offline use, the demo).
 * Bounded retries with exponential back-off and jitter; a conditional request with ETag /
 * If-Modified-Since; a timeout per attempt; a size limit; a body shorter than its
 * Content-Length is an error, never a payload.
 *
 * ```ts
 * const result = await fetchPayload('https://www.gdacs.org/xml/rss.xml', { etag })
 * ```
 */
export async function fetchPayload(url: string, options: FetchOptions = {}): Promise<FetchResult> {
  const o = { ...DEFAULTS, ...options };
  if (url.startsWith('file:')) return readLocal(url, o.maxBytes);
  if (!/^https?:\/\//.test(url)) throw new FetchError(`unsupported URL ${url} (http, https or file)`, 0);
  let lastError = '';
  for (let attempt = 1; attempt <= o.retries + 1; attempt++) {
    try {
      const result = await attemptFetch(url, o);
      if (result.kind === 'done') return { ...result.value, attempts: attempt };
      lastError = result.reason;
      if (!result.retry) throw new FetchError(`${url}: ${result.reason}`, attempt, result.payloadProblem);
    } catch (error) {
      if (error instanceof FetchError) throw error;
      lastError = describe(error);
    }
    if (attempt <= o.retries) {
      const delay = o.backoffMs * 2 ** (attempt - 1) * (1 + Math.random() * 0.5);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  throw new FetchError(`${url}: ${lastError} (after ${o.retries + 1} attempts)`, o.retries + 1);
}

type Attempt =
  | { kind: 'done'; value: Omit<Extract<FetchResult, { status: 'ok' }>, 'attempts'> | { status: 'not_modified' } }
  | { kind: 'failed'; reason: string; retry: boolean; payloadProblem?: boolean };

async function attemptFetch(url: string, o: typeof DEFAULTS & FetchOptions): Promise<Attempt> {
  const headers: Record<string, string> = { 'user-agent': 'asp-engine/0.1 (early-warning feed reader)', accept: '*/*' };
  if (o.etag) headers['if-none-match'] = o.etag;
  if (o.lastModified) headers['if-modified-since'] = o.lastModified;
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(o.timeoutMs), redirect: 'follow' });
  if (response.status === 304) {
    await response.body?.cancel();
    return { kind: 'done', value: { status: 'not_modified' } };
  }
  if (!response.ok) {
    await response.body?.cancel();
    const retry = response.status === 429 || response.status >= 500;
    return { kind: 'failed', reason: `HTTP ${response.status} ${response.statusText}`, retry };
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > o.maxBytes) {
    await response.body?.cancel();
    return { kind: 'failed', reason: `the body is ${megabytes(declared)}, over the limit of ${megabytes(o.maxBytes)} per payload (feed option maxBytes)`, retry: false, payloadProblem: true };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.length;
    if (size > o.maxBytes) {
      return { kind: 'failed', reason: `the body exceeds the limit of ${megabytes(o.maxBytes)} per payload (feed option maxBytes)`, retry: false, payloadProblem: true };
    }
    chunks.push(Buffer.from(chunk));
  }
  if (Number.isFinite(declared) && size !== declared && !response.headers.get('content-encoding')) {
    return { kind: 'failed', reason: `truncated body: ${size} of ${declared} bytes`, retry: true };
  }
  return {
    kind: 'done',
    value: {
      status: 'ok',
      bytes: Buffer.concat(chunks),
      contentType: response.headers.get('content-type'),
      etag: response.headers.get('etag'),
      lastModified: response.headers.get('last-modified'),
    },
  };
}

async function readLocal(url: string, maxBytes: number): Promise<FetchResult> {
  const path = fileURLToPath(url);
  try {
    const info = await stat(path);
    if (info.size > maxBytes) throw new FetchError(`${url}: the file is ${megabytes(info.size)}, over the limit of ${megabytes(maxBytes)} per payload (feed option maxBytes)`, 1, true);
    return { status: 'ok', bytes: await readFile(path), contentType: null, etag: null, lastModified: null, attempts: 1 };
  } catch (error) {
    if (error instanceof FetchError) throw error;
    throw new FetchError(`${url}: ${(error as Error).message}`, 1);
  }
}

/** 53477376 → "51.0 MB" (MiB, as the limit is set); small sizes in bytes. */
const megabytes = (bytes: number) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${bytes} bytes`);

function describe(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message} (${cause})` : e.message;
}
