import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFeed } from '../../src/feeds/run-feed.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { serveRoutes } from '../support/http.ts';
import { projectRoot } from '../support/paths.ts';

let t: TestDatabase;
let server: Awaited<ReturnType<typeof serveRoutes>>;
beforeAll(async () => {
  t = await createTestDatabase();
  const alert = await readFile(path.join(projectRoot, 'data/demo/feeds/cap-flood-warning.xml'));
  const index = `<?xml version="1.0"?><rss version="2.0"><channel><title>DMS alerts</title>
    <item><title>Flood warning</title><link>/alerts/flood.xml</link></item>
    <item><title>Sneaky</title><link>file:///etc/hostname</link></item>
  </channel></rss>`;
  server = await serveRoutes({
    '/rss.xml': (_req, res) => void res.writeHead(200, { 'content-type': 'application/rss+xml' }).end(index),
    '/alerts/flood.xml': (_req, res) => void res.writeHead(200, { 'content-type': 'application/cap+xml' }).end(alert),
  });
});
afterAll(async () => {
  await server?.close();
  await t?.drop();
});

describe('a CAP index feed with followCapLinks', () => {
  it('fetches and ingests the linked alerts over HTTP, and never follows a link to a local file', async () => {
    const run = await runFeed(t.store, {
      name: 'dms-index', adapter: 'cap', url: `${server.url}/rss.xml`, schedule: '0 0 1 1 *', enabled: true,
      staleAfterMinutes: 60, options: { followCapLinks: true, retries: 0 },
    });
    expect(run).toMatchObject({ status: 'success', payloads: 2, versionsAdded: 1 });
    expect(server.hits.get('/alerts/flood.xml')).toBe(1);
    const sources = await t.store.transaction(({ raw }) => raw.query<{ source_url: string }>(`SELECT source_url FROM raw_payloads ORDER BY id`));
    expect(sources.rows.map((r) => r.source_url)).toEqual([`${server.url}/rss.xml`, `${server.url}/alerts/flood.xml`]);
  });
});
