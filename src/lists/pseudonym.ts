import { createHmac, randomBytes } from 'node:crypto';
import { loadConfig } from '../config.ts';
import type { RawConnection } from '../db/raw.ts';

/**
 * Pseudonymous ids for partners: HMAC-SHA256(secret, `${partnerId}:${registryId}`), cut to its
 * first 120 bits and written in Crockford base32 (24 characters, no I, L, O or U to misread over
 * the phone). The same household has the same id for the same partner in every release; two
 * partners' ids cannot be joined without the secret. 120 bits make a collision within a release
 * practically impossible (and release_ids' UNIQUE would refuse one).
 */

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ID_BYTES = 15;
const SETTING = 'pseudonym_secret';

export function pseudonymousId(secret: string, partnerId: string, registryId: string): string {
  const digest = createHmac('sha256', secret).update(`${partnerId}:${registryId}`).digest();
  return base32(digest.subarray(0, ID_BYTES));
}

/**
 * The secret: ASP_PSEUDONYM_SECRET when configured, else the one this installation generated at
 * its first release and keeps in engine_settings. Call inside the release's transaction.
 */
export async function pseudonymSecret(raw: RawConnection): Promise<string> {
  const configured = loadConfig().ASP_PSEUDONYM_SECRET;
  if (configured) return configured;
  // ON CONFLICT: two first releases at once both end up with whichever secret was stored first.
  await raw.query(`INSERT INTO engine_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [
    SETTING,
    randomBytes(32).toString('hex'),
  ]);
  const { rows } = await raw.query<{ value: string }>(`SELECT value FROM engine_settings WHERE name = $1`, [SETTING]);
  return rows[0].value;
}

/** Crockford base32 of a whole number of 5-byte groups (15 bytes → 24 characters). */
function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += CROCKFORD[(value << (5 - bits)) & 31];
  return out;
}
