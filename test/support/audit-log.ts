import { audit, type AuditEntry } from '../../src/audit/audit.ts';
import type { Store } from '../../src/db/store.ts';

/** An entry of the audit log for tests: a distinct actor, subject and details per `n`. */
export const auditEntry = (n: number, details: Record<string, unknown> = {}): AuditEntry => ({
  actor: `user${n}@test`, action: 'list.approved', subject: `list:${n}`, details: { n, ...details },
});

/** Writes entries `from`..`to`, each in its own transaction, with whatever key the process uses. */
export async function appendAuditEntries(store: Store, to: number, from = 1): Promise<void> {
  for (let n = from; n <= to; n++) await store.transaction(({ raw }) => audit(raw, auditEntry(n)));
}

/** Runs SQL on audit_log with its append-only trigger disabled, as a DBA (the table's owner) could. */
export async function behindTheBack(store: Store, sql: string, params: unknown[] = []): Promise<void> {
  await store.transaction(async ({ raw }) => {
    await raw.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
    await raw.query(sql, params);
    await raw.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
  });
}

/** An empty log whose ids start at 1 again. */
export async function emptyAuditLog(store: Store): Promise<void> {
  await behindTheBack(store, 'DELETE FROM audit_log');
  await store.transaction(({ raw }) => raw.query('ALTER TABLE audit_log ALTER COLUMN id RESTART'));
}
