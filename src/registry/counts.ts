import { sql } from 'kysely';
import type { Store } from '../db/store.ts';

export interface RegistryCounts {
  areas: number;
  households: number;
  /** Active enrolments. */
  enrolments: number;
  programmes: number;
}

/** What the engine holds, for health checks and summaries (counts only, never personal data). */
export async function registryCounts(store: Store): Promise<RegistryCounts> {
  const result = await sql<RegistryCounts>`
    SELECT (SELECT count(*) FROM admin_areas)::int AS areas,
           (SELECT count(*) FROM households)::int AS households,
           (SELECT count(*) FROM enrolments WHERE status = 'active')::int AS enrolments,
           (SELECT count(*) FROM programmes)::int AS programmes`.execute(store.db);
  return result.rows[0];
}
