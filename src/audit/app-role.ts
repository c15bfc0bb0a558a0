import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';

/**
 * The database role the application runs as, apart from the role that owns the tables and runs
 * migrations. The owner can always disable a trigger or grant itself a privilege back; a role that
 * owns nothing cannot. So the app role gets what the engine needs on every table, and on the
 * append-only tables (the audit log and the others guarded by the append_only() trigger) only
 * SELECT and INSERT: an UPDATE, DELETE or TRUNCATE through it is refused by the privilege system,
 * before any trigger is reached.
 */

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface AppRoleGrant {
  role: string;
  /** The tables the role may only read and append to. */
  appendOnly: string[];
}

/**
 * Grants `role` (which must exist and must not be a superuser or the owner running this) the
 * engine's privileges, idempotently: run it again after each `asp migrate`. Tables created later by
 * the same owner get the read-write privileges by default; new append-only tables are restricted
 * when this runs again.
 *
 * ```ts
 * const { appendOnly } = await grantAppRole(ownerStore, 'asp_app')
 * ```
 */
export async function grantAppRole(store: Store, role: string): Promise<AppRoleGrant> {
  if (store.backend !== 'server') {
    throw new UserError('the embedded database has a single user: an app role needs the PostgreSQL server (--db URL)');
  }
  if (!ROLE_NAME.test(role)) throw new UserError(`role ${JSON.stringify(role)}: give a plain PostgreSQL role name (lower case letters, digits, _)`);
  return store.transaction(async ({ raw }) => {
    const { rows } = await raw.query<{ rolsuper: boolean; rolbypassrls: boolean; is_me: boolean }>(
      `SELECT rolsuper, rolbypassrls, rolname = current_user AS is_me FROM pg_roles WHERE rolname = $1`,
      [role],
    );
    if (!rows[0]) throw new UserError(`role ${role} does not exist: create it first (CREATE ROLE ${role} LOGIN PASSWORD '…')`);
    if (rows[0].is_me) throw new UserError(`${role} is the role running this command, which owns the tables: the app role must be another`);
    if (rows[0].rolsuper) throw new UserError(`${role} is a superuser: privileges do not bind it`);
    const appendOnly = (
      await raw.query<{ table_name: string }>(
        `SELECT DISTINCT c.relname AS table_name
           FROM pg_trigger t
           JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_proc p ON p.oid = t.tgfoid
          WHERE n.nspname = 'public' AND p.proname = 'append_only'
          ORDER BY 1`,
      )
    ).rows.map((r) => r.table_name);
    if (!appendOnly.includes('audit_log')) throw new Error('audit_log has no append_only trigger: is the database migrated?');
    // The role name was checked against ROLE_NAME above: safe to place in the statements.
    await raw.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
    await raw.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
    await raw.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    await raw.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${role}`);
    await raw.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO ${role}`);
    for (const table of appendOnly) {
      await raw.query(`REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLE ${table} FROM ${role}`);
    }
    // What the role may do in the end, through any role it belongs to as well (the owner's, say).
    const { rows: still } = await raw.query<{ table_name: string }>(
      `SELECT t AS table_name FROM unnest($2::text[]) AS t
        WHERE has_table_privilege($1, t, 'UPDATE') OR has_table_privilege($1, t, 'DELETE') OR has_table_privilege($1, t, 'TRUNCATE')
           OR pg_has_role($1, (SELECT relowner FROM pg_class WHERE oid = t::regclass), 'USAGE')`,
      [role, appendOnly],
    );
    if (still.length) {
      throw new UserError(`${role} may still change ${still.map((r) => r.table_name).join(', ')} through a role it belongs to (e.g. the owner's): the app role must not be a member of it`);
    }
    return { role, appendOnly };
  });
}
