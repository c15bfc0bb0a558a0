import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Store } from '../../src/db/store.ts';

/**
 * Payment lists written straight into the tables, as generation and approval would leave them:
 * a rule version, one activation per area, the list, its areas and entries (while draft), then
 * approved with a content hash. Lets release and export be tested before generation exists.
 */

export interface FixtureEntry {
  householdId: number;
  registryId: string;
  /** The household's area; also the affected (activation) area here. */
  pcode: string;
  amount: number;
  size?: number | null;
  tier?: string | null;
}

export interface FixtureList {
  listId: number;
  contentSha256: string | null;
  entries: FixtureEntry[];
}

let made = 0;

export async function createList(
  store: Store,
  entries: FixtureEntry[],
  options: { approve?: boolean; suppressBelow?: number; cycle?: string } = {},
): Promise<FixtureList> {
  const n = ++made;
  const approve = options.approve ?? true;
  const definition = options.suppressBelow
    ? { data_sharing: { aggregates: { hxl_tags: ['#adm2+code'], suppress_below_households: options.suppressBelow } } }
    : {};
  const created = await store.transaction(async ({ raw }) => {
    const ruleHash = createHash('sha256').update(`rule ${n} ${Math.random()}`).digest('hex');
    const { rows: versions } = await raw.query<{ id: number }>(
      `INSERT INTO rule_versions (rule_id, hash, definition, file, created_by) VALUES ('test-rule', $1, $2::jsonb, 'test-rule.yaml', 'a') RETURNING id`,
      [ruleHash, JSON.stringify(definition)],
    );
    const versionId = versions[0].id;
    const shockKey = 'indicator:vci3m:2026-10-01';
    const pcodes = [...new Set(entries.map((e) => e.pcode))];
    const activations = new Map<string, number>();
    for (const pcode of pcodes) {
      const { rows } = await raw.query<{ id: number }>(
        `INSERT INTO activations (rule_version_id, rule_id, shock_key, pcode, stage, tier, evidence, opened_as_of, evaluated_as_of)
         VALUES ($1, 'test-rule', $2, $3, 'activation', 'severe', '[]'::jsonb, now(), now()) RETURNING id`,
        [versionId, shockKey, pcode],
      );
      activations.set(pcode, rows[0].id);
    }
    const total = entries.reduce((sum, e) => sum + e.amount, 0);
    const { rows: lists } = await raw.query<{ id: number }>(
      `INSERT INTO payment_lists (rule_version_id, rule_id, component, kind, programme_code, cycle, currency, households, total_amount, generated_by)
       VALUES ($1, 'test-rule', 0, 'vertical', 'CT', $2, 'KES', $3, $4, 'a') RETURNING id`,
      [versionId, options.cycle ?? '2026-11', entries.length, total],
    );
    const id = Number(lists[0].id);
    for (const pcode of pcodes) {
      await raw.query(
        `INSERT INTO payment_list_areas (list_id, activation_id, pcode, shock_key, tier, registered) VALUES ($1, $2, $3, $4, 'severe', $5)`,
        [id, activations.get(pcode), pcode, shockKey, entries.filter((e) => e.pcode === pcode).length],
      );
    }
    await raw.query(
      `INSERT INTO payment_list_entries (list_id, household_id, region, registry_id, admin_pcode, pcode, activation_id, tier, rank, size, amount,
                                         currency, payments, first_payment, payment_channel, payment_account, reason)
       SELECT $1, h, hh.region, r, p, p, a, t, ord::int, s, amt, 'KES', 3, DATE '2026-11-07', hh.payment_channel, hh.payment_account, 'in an area at severe'
         FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::int[], $8::numeric[])
              WITH ORDINALITY AS x(h, r, p, a, t, s, amt, ord)
         JOIN households hh ON hh.id = x.h`,
      [
        id,
        entries.map((e) => e.householdId),
        entries.map((e) => e.registryId),
        entries.map((e) => e.pcode),
        entries.map((e) => activations.get(e.pcode)),
        entries.map((e) => e.tier ?? 'severe'),
        entries.map((e) => e.size ?? null),
        entries.map((e) => e.amount),
      ],
    );
    if (!approve) return { id, contentSha256: null };
    // The database checks at commit that an approved list's hash is that of its entries.
    const { rows: approved } = await raw.query<{ contentSha256: string }>(
      `UPDATE payment_lists SET status = 'approved', approved_by = 'b', approved_at = now(), content_sha256 = payment_list_content_hash(id)
        WHERE id = $1 RETURNING content_sha256 AS "contentSha256"`,
      [id],
    );
    return { id, contentSha256: approved[0].contentSha256 };
  });
  return { listId: created.id, contentSha256: created.contentSha256, entries };
}

/** `count` households numbered from `from` in one area, written by SQL (fast for tens of thousands). */
export async function bulkHouseholds(store: Store, pcode: string, count: number, prefix: string): Promise<FixtureEntry[]> {
  return store.transaction(async ({ raw }) => {
    const { rows } = await raw.query<{ id: number; registry_id: string; size: number }>(
      `INSERT INTO households (registry_id, admin_pcode, region, size, payment_channel, payment_account, attributes)
       SELECT $2 || lpad(g::text, 6, '0'), $1, admin_region($1), 1 + g % 7, 'mobile_money', '07' || lpad(g::text, 8, '0'),
              jsonb_build_object('name', 'Person ' || g, 'phone', '+2547' || lpad(g::text, 8, '0'))
         FROM generate_series(1, $3::int) g
       RETURNING id, registry_id, size`,
      [pcode, prefix, count],
    );
    return rows.map((r, i) => ({ householdId: Number(r.id), registryId: r.registry_id, pcode, amount: 1000 + (i % 10) * 250, size: r.size }));
  });
}

/** A Writable that keeps what it is given. */
export function collector(): { out: Writable; text: () => string; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
  return { out, chunks, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** The audit log's newest row. */
export async function lastAudit(store: Store): Promise<{ actor: string; action: string; subject: string; details: Record<string, unknown> }> {
  return store.transaction(async ({ raw }) => {
    const { rows } = await raw.query<{ actor: string; action: string; subject: string; details: Record<string, unknown> }>(
      `SELECT actor, action, subject, details FROM audit_log ORDER BY id DESC LIMIT 1`,
    );
    return rows[0];
  });
}

/** registry id → pseudonymous id of one release. */
export async function releaseIds(store: Store, listId: number, partnerId: string): Promise<Map<string, string>> {
  return store.transaction(async ({ raw }) => {
    const { rows } = await raw.query<{ registry_id: string; pseudonymous_id: string }>(
      `SELECT e.registry_id, r.pseudonymous_id
         FROM list_releases l JOIN release_ids r ON r.release_id = l.id
         JOIN payment_list_entries e ON e.list_id = l.list_id AND e.household_id = r.household_id
        WHERE l.list_id = $1 AND l.partner_id = $2`,
      [listId, partnerId],
    );
    return new Map(rows.map((r) => [r.registry_id, r.pseudonymous_id]));
  });
}
