import { OPENIMIS_SCHEME } from '../../areas/area-codes.ts';
import type { Store } from '../../db/store.ts';

/**
 * The openIMIS location code → P-code table, read once per pull: a country has thousands of
 * locations at most, so a map in memory costs less than a lookup per household.
 *
 * ```ts
 * const crosswalk = await loadAreaCrosswalk(store) // Map { 'R1D1' => 'KE030' }
 * ```
 */
export async function loadAreaCrosswalk(store: Store, scheme = OPENIMIS_SCHEME): Promise<Map<string, string>> {
  const rows = await store.db.selectFrom('area_codes').select(['code', 'pcode']).where('scheme', '=', scheme).execute();
  return new Map(rows.map((r) => [r.code, r.pcode]));
}
