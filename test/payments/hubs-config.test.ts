import { expect, it } from 'vitest';
import { getHub, loadHubs } from '../../src/payments/hubs.ts';
import { tempFile } from '../support/files.ts';

/** The hubs file: read with defaults, its problems named by line and field, as data/feeds.yaml's are. */

it('reads a hub with its defaults; a relative JWKS file is resolved beside the hubs file', async () => {
  const file = await tempFile('hubs.yaml', `hubs:
  - name: mpesa-hub
    adapter: g2p-connect
    url: https://hub.example.org/g2p/
    partner: mpesa
    jwks: keys/hub-jwks.json
    token: { env: MPESA_HUB_TOKEN }
`);
  const [hub] = await loadHubs(file);
  expect(hub).toMatchObject({
    name: 'mpesa-hub', url: 'https://hub.example.org/g2p', partnerId: 'mpesa', hubId: 'mpesa-hub', chunkSize: 1000, status: 'sync',
    statusAfterMs: 300_000, token: { env: 'MPESA_HUB_TOKEN' }, retry: { attempts: 8, baseMs: 1000, maxMs: 300_000, timeoutMs: 60_000 },
  });
  expect(hub.jwks).toBe(file.replace(/hubs\.yaml$/, 'keys/hub-jwks.json'));
});

it('names every problem with its line, and a hub that is not configured with the ones that are', async () => {
  const file = await tempFile('bad-hubs.yaml', `hubs:
  - name: Hub One
    adapter: g2p-connect
    url: not a url
    partner: mpesa
    jwks: jwks.json
    chunk_size: 0
    token: { env: A, file: B }
`);
  const error = await loadHubs(file).catch((e: Error & { details?: string[] }) => e);
  expect((error as Error).message).toBe(`${file}: the payment hubs configuration is invalid`);
  const details = (error as { details: string[] }).details;
  expect(details).toHaveLength(4);
  expect(details).toEqual(expect.arrayContaining([
    expect.stringMatching(new RegExp(`^${file}:2: hubs\\.0\\.name: `)),
    expect.stringMatching(new RegExp(`^${file}:4: hubs\\.0\\.url: `)),
    expect.stringMatching(new RegExp(`^${file}:8: hubs\\.0\\.token: name exactly one of env or file$`)),
    expect.stringMatching(new RegExp(`^${file}:7: hubs\\.0\\.chunk_size: `)),
  ]));
  const good = await tempFile('one-hub.yaml', 'hubs:\n  - { name: a-hub, adapter: g2p-connect, url: "http://127.0.0.1:1", partner: p, jwks: j.json }\n');
  await expect(getHub('b-hub', good)).rejects.toThrow('no payment hub b-hub (configured: a-hub)');
  await expect(getHub('b-hub', '')).rejects.toThrow(/none is configured: set ASP_HUBS/);
});
