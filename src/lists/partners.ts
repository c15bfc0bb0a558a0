import { audit } from '../audit/audit.ts';
import type { RawConnection } from '../db/raw.ts';
import type { Store } from '../db/store.ts';
import { NotFoundError, UserError } from '../errors.ts';
import { SHAREABLE_FIELDS } from '../rules/schema.ts';

/**
 * Partners a payment list can be released to (payment providers, humanitarian partners,
 * coordination), each with the whitelist of fields it may receive and whether the ids it gets are
 * pseudonymous. A release copies the whitelist, so changing a partner later never widens what an
 * earlier release disclosed.
 */

export type ShareableField = (typeof SHAREABLE_FIELDS)[number];
export const PARTNER_ROLES = ['payment_provider', 'humanitarian_partner', 'coordination'] as const;
export type PartnerRole = (typeof PARTNER_ROLES)[number];

export interface PartnerInput {
  id: string;
  name: string;
  role: string;
  fields: readonly string[];
  /** Default true: the partner gets HMAC-based ids and never the registry's own ids. */
  pseudonymise?: boolean;
}

export interface Partner {
  id: string;
  name: string;
  role: PartnerRole;
  fields: ShareableField[];
  pseudonymise: boolean;
  createdBy: string;
  createdAt: Date;
}

const isShareable = (field: string): field is ShareableField => (SHAREABLE_FIELDS as readonly string[]).includes(field);

/**
 * Adds a partner, or updates it when the id exists (name, role, fields, pseudonymise; who created
 * it stays). Audited as `partner.added` or `partner.updated`.
 *
 * ```ts
 * await addPartner(store, { id: 'mpesa', name: 'M-Pesa', role: 'payment_provider', fields: ['pseudonymous_id', 'phone', 'amount'] }, 'alice')
 * ```
 */
export async function addPartner(store: Store, input: PartnerInput, actor: string): Promise<Partner & { created: boolean }> {
  const partner = validatePartner(input);
  if (!actor.trim()) throw new UserError('say who adds the partner (--by NAME)');
  return store.transaction(async ({ raw }) => {
    const existed = (await raw.query('SELECT 1 FROM partners WHERE id = $1 FOR UPDATE', [partner.id])).rows.length > 0;
    const { rows } = await raw.query<PartnerRow>(
      `INSERT INTO partners (id, name, role, fields, pseudonymise, created_by) VALUES ($1, $2, $3, $4::text[], $5, $6)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, fields = excluded.fields, pseudonymise = excluded.pseudonymise
       RETURNING ${PARTNER_COLUMNS}`,
      [partner.id, partner.name, partner.role, partner.fields, partner.pseudonymise, actor],
    );
    await audit(raw, {
      actor,
      action: existed ? 'partner.updated' : 'partner.added',
      subject: `partner:${partner.id}`,
      details: { role: partner.role, fields: partner.fields, pseudonymise: partner.pseudonymise },
    });
    return { ...toPartner(rows[0]), created: !existed };
  });
}

export async function listPartners(store: Store): Promise<Partner[]> {
  return store.transaction(async ({ raw }) => {
    const { rows } = await raw.query<PartnerRow>(`SELECT ${PARTNER_COLUMNS} FROM partners ORDER BY id`);
    return rows.map(toPartner);
  });
}

/** The partner or a NotFoundError naming the command that lists them. */
export async function getPartner(raw: RawConnection, id: string): Promise<Partner> {
  const { rows } = await raw.query<PartnerRow>(`SELECT ${PARTNER_COLUMNS} FROM partners WHERE id = $1`, [id]);
  if (rows.length === 0) throw new NotFoundError(`no partner ${id} (asp partners list; add one with asp partners add)`);
  return toPartner(rows[0]);
}

/** Every problem at once, as a user would want to fix them in one go. */
function validatePartner(input: PartnerInput): Omit<Partner, 'createdBy' | 'createdAt'> {
  const problems: string[] = [];
  const id = input.id?.trim() ?? '';
  if (!/^[a-z0-9][a-z0-9-]*$/.test(id)) problems.push(`id "${id}": lower-case letters, digits and - only, e.g. mpesa-ke`);
  const name = input.name?.trim() ?? '';
  if (!name) problems.push('name: must not be empty');
  if (!(PARTNER_ROLES as readonly string[]).includes(input.role)) {
    problems.push(`role "${input.role}": must be one of ${PARTNER_ROLES.join(', ')}`);
  }
  const fields = [...new Set(input.fields.map((f) => f.trim()).filter(Boolean))];
  const unknown = fields.filter((f) => !isShareable(f));
  if (fields.length === 0) problems.push(`fields: name at least one of ${SHAREABLE_FIELDS.join(', ')}`);
  if (unknown.length > 0) problems.push(`fields: ${unknown.join(', ')} cannot be shared; the fields are ${SHAREABLE_FIELDS.join(', ')}`);
  const pseudonymise = input.pseudonymise ?? true;
  if (pseudonymise && fields.includes('registry_id')) {
    problems.push('fields: a pseudonymised partner cannot receive registry_id (share pseudonymous_id, or add the partner with --no-pseudonymise)');
  }
  if (problems.length > 0) throw new UserError(`invalid partner ${id || '(no id)'}`, problems);
  // The vocabulary's order, so exports have the same columns whatever order they were given in.
  const ordered = SHAREABLE_FIELDS.filter((f) => fields.includes(f));
  return { id, name, role: input.role as PartnerRole, fields: ordered, pseudonymise };
}

const PARTNER_COLUMNS = 'id, name, role, fields, pseudonymise, created_by, created_at';

interface PartnerRow {
  id: string;
  name: string;
  role: PartnerRole;
  fields: ShareableField[];
  pseudonymise: boolean;
  created_by: string;
  created_at: Date;
}

const toPartner = (r: PartnerRow): Partner => ({
  id: r.id, name: r.name, role: r.role, fields: r.fields, pseudonymise: r.pseudonymise, createdBy: r.created_by, createdAt: new Date(r.created_at),
});
