import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterFor } from '../../src/feeds/adapters/index.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import type { SourceName } from '../../src/feeds/model.ts';
import { testBackend } from '../support/backend.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { sharedData } from '../support/paths.ts';
import { assertProperty, FC_SEED, fcRuns } from '../lists/oracle/property.ts';
import { mutate, mutationArbitrary, Outcomes, type Format } from './mutate.ts';

/**
 * Issue 11, item 10: the real recorded payloads of every feed adapter, mutated (byte flips, cuts,
 * NUL, deep nesting, hostile numbers, year 0000, entity bombs), through the real ingest into the
 * database. Whatever arrives: no exception, the raw payload kept byte for byte, and either the
 * valid records landed with the bad ones quarantined, or nothing landed and the payload is
 * quarantined, every reason readable. Seeded: FC_SEED / FC_RUNS / FC_PATH as the oracle suites.
 */

const FEEDS = path.join(sharedData, 'feeds');
/** Which adapter reads a folder's payloads. */
const SOURCE_OF: Record<string, SourceName> = { gdacs: 'gdacs', usgs: 'usgs', cap: 'cap', food_security: 'ipc', climate: 'indicators' };
/** Payloads above this size cost seconds each to ingest; the smaller ones cover every adapter. */
const MAX_BYTES = 300_000;

interface Sample {
  name: string;
  source: SourceName;
  format: Format;
  bytes: Buffer;
}

function samples(): Sample[] {
  const found: Sample[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (statSync(full).size <= MAX_BYTES && /\.(json|geojson|xml|csv)$/.test(entry.name)) {
        const source = SOURCE_OF[path.relative(FEEDS, full).split(path.sep)[0]];
        const format = entry.name.endsWith('.xml') ? 'xml' : entry.name.endsWith('.csv') ? 'csv' : 'json';
        if (source) found.push({ name: path.relative(FEEDS, full), source, format, bytes: readFileSync(full) });
      }
    }
  };
  walk(FEEDS);
  return found;
}

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

const query = async <R>(text: string, params: unknown[] = []) =>
  (await t.store.transaction(({ raw }) => raw.query<R>(text, params))).rows;

describe('fuzz: mutated real payloads through every feed adapter and the ingest', () => {
  const all = samples();

  it('covers every adapter', () => {
    expect(new Set(all.map((s) => s.source))).toEqual(new Set(['gdacs', 'usgs', 'cap', 'ipc', 'indicators']));
  });

  it('never crash, never write part of a payload, always a readable reason', async () => {
    const outcomes = new Outcomes();
    let counter = 0;
    const runs = fcRuns(250, 60);
    await assertProperty(fc.tuple(fc.constantFrom(...all), mutationArbitrary), async ([sample, mutation]) => {
      const bytes = mutate(sample.bytes, mutation, sample.format);
      const url = `fuzz://${FC_SEED}/${counter++}/${sample.name}`;
      const summary = await ingestPayload(t.store, adapterFor(sample.source)!, { source: sample.source, bytes, url });
      if (summary.duplicate) return outcomes.add('the same bytes seen before (nothing added)');
      const [payload] = await query<{ id: number; body: Uint8Array }>(`SELECT id, body FROM raw_payloads WHERE source_url = $1`, [url]);
      expect(Buffer.from(payload.body).equals(bytes), 'the raw payload is kept byte for byte').toBe(true);
      const quarantined = await query<{ location: string; reason: string }>(`SELECT location, reason FROM quarantine WHERE payload_id = $1`, [payload.id]);
      expect(quarantined.length).toBe(summary.quarantined);
      for (const q of quarantined) {
        expect(q.reason.length, q.reason.slice(0, 200)).toBeGreaterThan(0);
        expect(q.reason.length).toBeLessThan(2200);
        expect(q.reason).not.toMatch(/\n\s+at /);
      }
      const [stored] = await query<{ n: number }>(
        `SELECT (SELECT count(*) FROM hazard_event_versions WHERE payload_id = $1) + (SELECT count(*) FROM indicator_values WHERE payload_id = $1)
              + (SELECT count(*) FROM hazard_footprints WHERE payload_id = $1) AS n`,
        [payload.id],
      );
      if (summary.payloadError) {
        expect(quarantined.map((q) => q.location)).toEqual(['payload']);
        expect(Number(stored.n), 'nothing of an unreadable payload is stored').toBe(0);
        return outcomes.add('payload quarantined');
      }
      const landed = summary.versionsAdded + summary.versionsUpdated + summary.indicatorsAdded > 0 || Number(stored.n) > 0;
      outcomes.add(landed ? (summary.quarantined > 0 ? 'landed, bad records quarantined' : 'landed') : summary.quarantined > 0 ? 'every record quarantined' : 'nothing in it');
    }, runs, 'fuzz feeds');
    console.info(`[fuzz feeds] ${runs} cases on ${testBackend()} (FC_SEED=${FC_SEED}): ${outcomes}`);
    expect(outcomes.counts.get('payload quarantined')).toBeGreaterThan(0);
    expect((outcomes.counts.get('landed, bad records quarantined') ?? 0) + (outcomes.counts.get('landed') ?? 0)).toBeGreaterThan(0);
  }, 600_000);
});
