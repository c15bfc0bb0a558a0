import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAsp } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { tempFile } from '../support/files.ts';

/**
 * A payload over the size limit (50 MB) is the input's fault: `asp ingest` exits 2 with the size
 * and the limit, like any other unreadable payload, and the run is recorded as failed.
 */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
}, 120_000);
afterAll(() => t?.drop());

describe('asp ingest of a 51 MB payload', () => {
  it('exits 2 with a clear message and records a failed run', async () => {
    const padding = ' '.repeat(51 * 1024 * 1024);
    const file = await tempFile('huge-usgs.json', `{"type": "FeatureCollection", "features": []${padding}}`);
    await t.store.close(); // the embedded database admits one process at a time
    let result;
    try {
      result = await runAsp([...t.cliArgs, 'ingest', 'usgs', file]);
    } finally {
      await t.reopen();
    }
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toMatch(/FAILED: .*huge-usgs\.json: the file is 51\.0 MB, over the limit of 50\.0 MB per payload \(feed option maxBytes\)/);
    expect(result.stderr).not.toMatch(/at .*\.ts:\d+/);
    const runs = await t.store.db.selectFrom('feed_runs').select(['status', 'error']).execute();
    expect(runs).toEqual([{ status: 'failed', error: expect.stringMatching(/over the limit of 50\.0 MB/) }]);
  }, 120_000);
});
