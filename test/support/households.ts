import type { Store } from '../../src/db/store.ts';

/** A household written by a test, with its enrolments; absent fields are stored as NULL. */
export interface TestHousehold {
  id: string;
  pcode: string;
  size?: number | null;
  pmt?: number | null;
  channel?: string | null;
  account?: string | null;
  /** [longitude, latitude] */
  location?: [number, number] | null;
  attributes?: Record<string, string>;
  enrolments?: [string, 'active' | 'suspended' | 'exited'][];
}

/** Inserts the households and their enrolments in one transaction; returns registry id → database id. */
export async function insertHouseholds(store: Store, households: TestHousehold[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  await store.transaction(async ({ raw }) => {
    for (const h of households) {
      const { rows } = await raw.query<{ id: string }>(
        `INSERT INTO households (registry_id, admin_pcode, region, size, pmt_score, payment_channel, payment_account, attributes, location)
         VALUES ($1, $2, admin_region($2), $3, $4, $5, $6, $7::jsonb,
                 CASE WHEN $8::float8 IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint($8::float8, $9::float8), 4326) END)
         RETURNING id`,
        [h.id, h.pcode, h.size ?? null, h.pmt ?? null, h.channel ?? null, h.account ?? null, JSON.stringify(h.attributes ?? {}),
          h.location?.[0] ?? null, h.location?.[1] ?? null],
      );
      ids.set(h.id, Number(rows[0].id));
      for (const [programme, status] of h.enrolments ?? []) {
        await raw.query(`INSERT INTO enrolments (household_id, region, programme_code, status) SELECT $1, region, $2, $3 FROM households WHERE id = $1`, [rows[0].id, programme, status]);
      }
    }
  });
  return ids;
}
