import { sql, type Kysely } from 'kysely';

/**
 * A hub that groups a list's disbursements under an object of its own (OpenG2P G2P Bridge: a
 * disbursement envelope declaring the control totals) gives it an id when it is created; the id
 * is kept with the disbursement so that a push run again adds to the same envelope, never a second.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE disbursements ADD COLUMN hub_batch_id text`.execute(db);
}
