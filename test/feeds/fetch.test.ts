import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchError, fetchPayload } from '../../src/feeds/fetch.ts';
import { serveRoutes } from '../support/http.ts';
import { sharedData } from '../support/paths.ts';

const rssFile = path.join(sharedData, 'feeds/gdacs/rss_2019-12-30_gdacs-rss.xml');
let rss: Buffer;
let server: Awaited<ReturnType<typeof serveRoutes>>;
const fast = { backoffMs: 5, timeoutMs: 1000 };

beforeAll(async () => {
  rss = await readFile(rssFile);
  server = await serveRoutes({
    '/rss.xml': (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304).end();
      res.writeHead(200, { 'content-type': 'application/rss+xml', etag: '"v1"', 'last-modified': 'Mon, 30 Dec 2019 10:00:00 GMT' }).end(rss);
    },
    '/flaky': (_req, res, hit) => {
      if (hit < 3) return void res.writeHead(500).end('try later');
      res.writeHead(200).end(rss);
    },
    '/down': (_req, res) => void res.writeHead(503).end(),
    '/missing': (_req, res) => void res.writeHead(404).end(),
    '/slow': (_req, res) => {
      setTimeout(() => res.writeHead(200).end('late'), 3000).unref();
    },
    '/truncated': (_req, res) => {
      res.writeHead(200, { 'content-length': String(rss.length) });
      res.write(rss.subarray(0, 1000));
      setTimeout(() => res.destroy(), 20);
    },
    '/big': (_req, res) => void res.writeHead(200, { 'content-length': String(rss.length) }).end(rss),
    '/big-chunked': (_req, res) => {
      res.writeHead(200); // no content-length: the limit must be enforced while reading
      res.write(rss);
      res.end(rss);
    },
  });
});
afterAll(() => server?.close());

describe('fetching a feed over HTTP', () => {
  it('gets the bytes exactly, with the validators, then a 304 for a conditional request', async () => {
    const first = await fetchPayload(`${server.url}/rss.xml`, fast);
    expect(first.status).toBe('ok');
    if (first.status !== 'ok') return;
    expect(first.bytes.equals(rss)).toBe(true);
    expect(first.etag).toBe('"v1"');
    expect(first.contentType).toBe('application/rss+xml');
    const second = await fetchPayload(`${server.url}/rss.xml`, { ...fast, etag: first.etag, lastModified: first.lastModified });
    expect(second.status).toBe('not_modified');
  });

  it('retries a 500 with back-off and succeeds on the third attempt', async () => {
    const result = await fetchPayload(`${server.url}/flaky`, { ...fast, retries: 3 });
    expect(result).toMatchObject({ status: 'ok', attempts: 3 });
    expect(server.hits.get('/flaky')).toBe(3);
  });

  it('gives up after its bounded retries and says why', async () => {
    const error = await fetchPayload(`${server.url}/down`, { ...fast, retries: 2 }).catch((e) => e);
    expect(error).toBeInstanceOf(FetchError);
    expect(error.message).toMatch(/HTTP 503 .*after 3 attempts/);
    expect(server.hits.get('/down')).toBe(3);
  });

  it('does not retry a 404', async () => {
    const error = await fetchPayload(`${server.url}/missing`, { ...fast, retries: 3 }).catch((e) => e);
    expect(error.message).toMatch(/HTTP 404/);
    expect(server.hits.get('/missing')).toBe(1);
  });

  it('times out a server that does not answer', async () => {
    const error = await fetchPayload(`${server.url}/slow`, { timeoutMs: 150, retries: 1, backoffMs: 5 }).catch((e) => e);
    expect(error).toBeInstanceOf(FetchError);
    expect(error.message).toMatch(/timed out/);
  });

  it('refuses a truncated body instead of ingesting half a payload', async () => {
    const error = await fetchPayload(`${server.url}/truncated`, { ...fast, retries: 1 }).catch((e) => e);
    expect(error).toBeInstanceOf(FetchError);
    expect(error.message).toMatch(/terminated|truncated|aborted|other side closed/i);
  });

  it('refuses an oversized body, declared or streamed', async () => {
    const declared = await fetchPayload(`${server.url}/big`, { ...fast, maxBytes: 10_000 }).catch((e) => e);
    expect(declared.message).toMatch(/over the limit of 10000/);
    const streamed = await fetchPayload(`${server.url}/big-chunked`, { ...fast, maxBytes: rss.length + 10 }).catch((e) => e);
    expect(streamed.message).toMatch(/exceeds the limit/);
  });

  it('reads file:// URLs for offline use, and names a missing file', async () => {
    const local = await fetchPayload(pathToFileURL(rssFile).toString());
    expect(local.status === 'ok' && local.bytes.equals(rss)).toBe(true);
    await expect(fetchPayload('file:///nonexistent/feed.xml')).rejects.toThrow(/no such file/i);
  });
});
