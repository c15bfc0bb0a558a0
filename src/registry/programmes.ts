import { z } from 'zod';
import { UserError } from '../errors.ts';
import type { Store } from '../db/store.ts';

export const programmeSchema = z.object({
  code: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only'),
  name: z.string().min(1),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as KES'),
  base_amount: z.number().nonnegative(),
  frequency: z.enum(['once', 'weekly', 'monthly', 'bimonthly', 'quarterly']),
});

export type Programme = z.infer<typeof programmeSchema>;

/**
 * Creates or updates a programme (the existing social protection programme a scale-up extends).
 *
 * ```ts
 * await upsertProgramme(store, { code: 'HSNP', name: 'Hunger Safety Net', currency: 'KES', base_amount: 5400, frequency: 'bimonthly' })
 * ```
 */
export async function upsertProgramme(store: Store, input: unknown): Promise<Programme> {
  const parsed = programmeSchema.safeParse(input);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => `${i.path.join('.') || 'programme'}: ${i.message}`);
    throw new UserError('invalid programme', details);
  }
  const programme = parsed.data;
  await store.db
    .insertInto('programmes')
    .values(programme)
    .onConflict((oc) => oc.column('code').doUpdateSet(({ ref }) => ({
      name: ref('excluded.name'),
      currency: ref('excluded.currency'),
      base_amount: ref('excluded.base_amount'),
      frequency: ref('excluded.frequency'),
    })))
    .execute();
  return programme;
}

export async function listProgrammes(store: Store): Promise<Programme[]> {
  return store.db.selectFrom('programmes').select(['code', 'name', 'currency', 'base_amount', 'frequency']).orderBy('code').execute();
}
