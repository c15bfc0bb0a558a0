import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';

const scrypt = promisify(scryptCallback) as (password: string, salt: string, keylen: number) => Promise<Buffer>;

export const ROLES = ['admin', 'rule-author', 'coordinator', 'approver', 'partner'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: the key's role, its partner (partner keys) and a label for the audit log. */
export interface Caller {
  keyId: string;
  role: Role;
  partnerId: string | null;
  label: string;
}

/**
 * API keys look like `asp_<id>_<secret>`: the id finds the row, the secret is checked against a
 * salted scrypt hash (node's own crypto, no native addon). The key is shown once, at creation.
 */
export async function createApiKey(
  store: Store, input: { role: string; partnerId?: string | null; label?: string; expiresAt?: Date | null }, actor: string,
): Promise<{ key: string; caller: Caller; expiresAt: Date | null }> {
  if (!actor?.trim()) throw new UserError('say who creates the key: --by NAME');
  if (!(ROLES as readonly string[]).includes(input.role)) throw new UserError(`--role ${input.role}: one of ${ROLES.join(', ')}`);
  const role = input.role as Role;
  const partnerId = input.partnerId ?? null;
  if ((role === 'partner') !== (partnerId !== null)) throw new UserError('a partner key needs --partner ID, and only a partner key takes one');
  const expiresAt = input.expiresAt ?? null;
  if (expiresAt !== null && !(expiresAt.getTime() > Date.now())) throw new UserError(`--expires ${expiresAt.toISOString()}: give a time in the future`);
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  const salt = randomBytes(16).toString('hex');
  const hash = (await scrypt(secret, salt, 32)).toString('hex');
  const label = input.label?.trim() || `${role}${partnerId ? ` ${partnerId}` : ''} key ${id}`;
  await store.transaction(async ({ raw }) => {
    if (partnerId) {
      const { rows } = await raw.query(`SELECT 1 FROM partners WHERE id = $1`, [partnerId]);
      if (rows.length === 0) throw new UserError(`no partner ${partnerId} (asp partners add)`);
    }
    await raw.query(
      `INSERT INTO api_keys (id, role, partner_id, label, salt, hash, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [id, role, partnerId, label, salt, hash, actor, expiresAt],
    );
  });
  return { key: `asp_${id}_${secret}`, caller: { keyId: id, role, partnerId, label }, expiresAt };
}

// scrypt is deliberately slow; a verified key's secret is remembered briefly (by a sha256 of the
// key) so that a dashboard's burst of requests does not pay it each time. Whether the key is still
// active (not revoked, not expired) is read from the database on every request, so a revocation by
// any process takes effect at the next request in every process.
const CACHE_TTL_MS = 60_000;
const cache = new Map<string, { caller: Caller; until: number }>();

/** The caller a presented key belongs to, or null when it is unknown, wrong, revoked or expired. */
export async function verifyApiKey(store: Store, presented: string): Promise<Caller | null> {
  const match = /^asp_([a-z0-9]{8,})_([A-Za-z0-9_-]{16,})$/.exec(presented);
  if (!match) return null;
  const [, id, secret] = match;
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ role: Role; partnerId: string | null; label: string; salt: string; hash: string }>(
      `SELECT role, partner_id AS "partnerId", label, salt, hash FROM api_keys
        WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      [id],
    ),
  );
  if (rows.length === 0) return null;
  const digest = createHash('sha256').update(presented).digest('hex');
  const hit = cache.get(digest);
  if (hit && hit.until > Date.now()) return hit.caller;
  const row = rows[0];
  const computed = await scrypt(secret, row.salt, 32);
  if (!timingSafeEqual(computed, Buffer.from(row.hash, 'hex'))) return null;
  const caller: Caller = { keyId: id, role: row.role, partnerId: row.partnerId, label: row.label };
  if (cache.size > 10_000) cache.clear();
  cache.set(digest, { caller, until: Date.now() + CACHE_TTL_MS });
  return caller;
}

export async function revokeApiKey(store: Store, id: string): Promise<void> {
  const result = await store.transaction(({ raw }) => raw.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, [id]));
  if (result.rowCount === 0) throw new UserError(`no active key ${id}`);
  cache.clear();
}

export interface ApiKeyRow {
  id: string; role: Role; partnerId: string | null; label: string; createdBy: string; createdAt: Date; revokedAt: Date | null; expiresAt: Date | null;
}

export async function listApiKeys(store: Store): Promise<ApiKeyRow[]> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<ApiKeyRow>(
      `SELECT id, role, partner_id AS "partnerId", label, created_by AS "createdBy", created_at AS "createdAt", revoked_at AS "revokedAt",
              expires_at AS "expiresAt"
         FROM api_keys ORDER BY created_at, id`,
    ),
  );
  return rows;
}
