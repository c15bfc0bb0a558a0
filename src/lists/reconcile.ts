import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { audit } from '../audit/audit.ts';
import { CopyError, type RawConnection } from '../db/raw.ts';
import type { Store } from '../db/store.ts';
import { ConflictError, NotFoundError, UserError } from '../errors.ts';
import { log } from '../log.ts';
import { readCsvHeader } from '../registry/csv-header.ts';
import { RecordLines } from '../registry/record-lines.ts';

/**
 * Reconciliation: a partner reports, per household of a released list, whether it was paid or
 * why it failed. The file is streamed with COPY into a staging table and checked there in SQL;
 * one problem anywhere and nothing is recorded. The latest report per household counts.
 */

/**
 * The columns of a reconciliation file; others are ignored (and named in the report). The id may
 * also come as `pseudonymous_id` or `registry_id`, as the list's CSV export names it, and a
 * `list_id` column (also from the export) must name the list being reconciled.
 */
const COLUMNS = ['id', 'list_id', 'status', 'amount', 'reason', 'paid_at', 'reference'] as const;
type Column = (typeof COLUMNS)[number];
const ID_ALIASES = ['pseudonymous_id', 'registry_id'] as const;
type IdAlias = (typeof ID_ALIASES)[number];
const REQUIRED: Column[] = ['status', 'amount'];

/** Problems listed in the error; the rest are counted. */
const MAX_PROBLEMS = 100;

// An amount as a partner writes it: digits, optionally a decimal point and decimals. The length
// cap keeps the cast to numeric from ever failing (a failed cast would abort the whole check).
const AMOUNT = String.raw`^[0-9]{1,12}(\.[0-9]{1,6})?$`;
// A date, optionally with a time and zone; whether the day exists in its month is checked apart.
const PAID_AT = String.raw`^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$`;

export interface ReconcileOptions {
  /** The partner whose file this is; needed when the list was released to more than one. */
  partnerId?: string;
}

export interface ReconcileReport {
  listId: number;
  releaseId: number;
  partnerId: string;
  /** Whether `id` in the file was the release's pseudonymous id (else the registry id). */
  pseudonymised: boolean;
  rows: number;
  paid: number;
  failed: number;
  /** Households that already had a reported status, now replaced by this file's. */
  replaced: number;
  /** Columns of the file that reconciliation does not read. */
  ignoredColumns: string[];
  sha256: string;
  totals: PaymentTotals;
}

export interface PaymentTotals {
  listId: number;
  currency: string | null;
  households: number;
  amount: number;
  paid: { households: number; amount: number };
  failed: { households: number; amount: number; byReason: Record<string, { households: number; amount: number }> };
  /** On the list, with no status reported yet. */
  pending: { households: number; amount: number };
}

interface Header {
  /** Column names as written in the file, in file order. */
  names: string[];
  /** Reconciliation column → staging column (c1, c2, ...); `id` once the release says which column holds it. */
  staging: Partial<Record<Column | IdAlias, string>>;
  ignored: string[];
}

interface Release {
  id: number;
  partnerId: string;
  pseudonymised: boolean;
}

/**
 * Records a partner's payment report for a released list: CSV columns `id`, `status` (paid |
 * failed), `amount` (must equal the list entry's), `reason` (required when failed), optional
 * `paid_at`, `reference` and `list_id`. `id` is the pseudonymous id of the release when it was
 * pseudonymised, else the household's registry id (the list's export, with a status column added,
 * will do). The release is the one to `partnerId`, or the list's only one.
 *
 * ```ts
 * const report = await reconcileList(store, 7, 'bank-x-2026-11.csv', 'finance@ministry', { partnerId: 'bank-x' })
 * ```
 */
export async function reconcileList(
  store: Store,
  listId: number,
  file: string,
  actor: string,
  options: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const fileHeader = await readHeader(file);
  const report = await store.transaction(async ({ raw }): Promise<ReconcileReport> => {
    const release = await releasedList(raw, listId, options.partnerId);
    const header = withIdColumn(fileHeader, release, file);
    const { lines, sha256 } = await copyToStaging(raw, file, header);
    const rows = (await raw.query<{ n: number }>('SELECT count(*)::int AS n FROM reconcile_rows')).rows[0].n;
    if (rows === 0) throw new UserError(`${file}: no rows after the header line`);
    await matchIds(raw, header, listId, release);
    await findProblems(raw, header, listId, release);
    const problems = await describeProblems(raw, header, lines);
    if (problems.total > 0) {
      const more = problems.total - problems.listed.length;
      throw new UserError(
        `${file}: ${problems.total} problem(s) in ${problems.rows} row(s); nothing was recorded`,
        [...problems.listed.map((p) => `${file}: ${p}`), ...(more > 0 ? [`… and ${more} more problem(s)`] : [])],
      );
    }
    const counts = await recordStatuses(raw, header, listId, release, path.basename(file));
    await audit(raw, {
      actor,
      action: 'list.reconciled',
      subject: `list:${listId}`,
      details: { release: release.id, partner: release.partnerId, file: path.basename(file), sha256, rows, ...counts },
    });
    const totals = await paymentTotals(raw, listId);
    return {
      listId, releaseId: release.id, partnerId: release.partnerId, pseudonymised: release.pseudonymised,
      rows, ...counts, ignoredColumns: header.ignored, sha256, totals,
    };
  });
  const { rows, paid, failed, replaced } = report;
  log.info({ list: listId, release: report.releaseId, partner: report.partnerId, rows, paid, failed, replaced }, 'list reconciled');
  return report;
}

/**
 * What was paid, failed (per reason) and is still pending on a list (as reported under one release,
 * when given). Amounts of paid and failed households are those reported, which reconciliation holds
 * equal to the list's.
 */
export async function paymentTotals(on: Store | RawConnection, listId: number, releaseId: number | null = null): Promise<PaymentTotals> {
  if ('transaction' in on) return on.transaction(({ raw }) => paymentTotals(raw, listId, releaseId));
  const list = await on.query<{ currency: string | null }>('SELECT currency FROM payment_lists WHERE id = $1', [listId]);
  if (list.rows.length === 0) throw new NotFoundError(`no payment list ${listId}`);
  const { rows } = await on.query<{
    households: number; amount: number; paid_households: number; paid_amount: number;
    failed_households: number; failed_amount: number; pending_households: number; pending_amount: number;
  }>(
    `SELECT count(*)::int AS households, coalesce(sum(e.amount), 0) AS amount,
            count(*) FILTER (WHERE s.status = 'paid')::int AS paid_households,
            coalesce(sum(s.amount) FILTER (WHERE s.status = 'paid'), 0) AS paid_amount,
            count(*) FILTER (WHERE s.status = 'failed')::int AS failed_households,
            coalesce(sum(s.amount) FILTER (WHERE s.status = 'failed'), 0) AS failed_amount,
            count(*) FILTER (WHERE s.status IS NULL)::int AS pending_households,
            coalesce(sum(e.amount) FILTER (WHERE s.status IS NULL), 0) AS pending_amount
       FROM payment_list_entries e
       LEFT JOIN payment_statuses s ON s.list_id = e.list_id AND s.household_id = e.household_id AND ($2::bigint IS NULL OR s.release_id = $2::bigint)
      WHERE e.list_id = $1`,
    [listId, releaseId],
  );
  const reasons = await on.query<{ reason: string; households: number; amount: number }>(
    `SELECT reason, count(*)::int AS households, sum(amount) AS amount
       FROM payment_statuses WHERE list_id = $1 AND status = 'failed' AND ($2::bigint IS NULL OR release_id = $2::bigint)
      GROUP BY reason ORDER BY count(*) DESC, reason`,
    [listId, releaseId],
  );
  const t = rows[0];
  return {
    listId,
    currency: list.rows[0].currency,
    households: t.households,
    amount: Number(t.amount),
    paid: { households: t.paid_households, amount: Number(t.paid_amount) },
    failed: {
      households: t.failed_households,
      amount: Number(t.failed_amount),
      byReason: Object.fromEntries(reasons.rows.map((r) => [r.reason, { households: r.households, amount: Number(r.amount) }])),
    },
    pending: { households: t.pending_households, amount: Number(t.pending_amount) },
  };
}

async function readHeader(file: string): Promise<Header> {
  const { columns, problems } = await readCsvHeader(file);
  const names = columns.map((c) => c.name);
  const staging: Header['staging'] = {};
  const ignored: string[] = [];
  for (const { name, key, staging: column } of columns) {
    if ((COLUMNS as readonly string[]).includes(key) || (ID_ALIASES as readonly string[]).includes(key)) staging[key as Column] = column;
    else ignored.push(name);
  }
  if (!staging.id && !staging.pseudonymous_id && !staging.registry_id) {
    problems.push('line 1: the required column id is missing (or pseudonymous_id, or registry_id, as the export names it)');
  }
  for (const column of REQUIRED) if (!staging[column]) problems.push(`line 1: the required column ${column} is missing`);
  if (problems.length > 0) {
    throw new UserError(`${file}: the header is not usable (columns: id, status, amount, reason; optional paid_at, reference, list_id)`,
      problems.map((p) => `${file}: ${p}`));
  }
  return { names, staging, ignored };
}

/**
 * Which column holds the ids: `id` when there is one, else the release's kind of id. The other
 * id columns are ignored.
 */
function withIdColumn(header: Header, release: Release, file: string): Header {
  const alias: IdAlias = release.pseudonymised ? 'pseudonymous_id' : 'registry_id';
  const chosen = header.staging.id ?? header.staging[alias];
  if (!chosen) {
    throw new UserError(
      `${file}: line 1: release ${release.id} to ${release.partnerId} is ${release.pseudonymised ? '' : 'not '}pseudonymised: the ids go in a column id or ${alias}`,
    );
  }
  const nameOf = (staging: string) => header.names[Number(staging.slice(1)) - 1];
  const unused = ID_ALIASES.map((a) => header.staging[a]).filter((c): c is string => c !== undefined && c !== chosen);
  return { ...header, staging: { ...header.staging, id: chosen }, ignored: [...header.ignored, ...unused.map(nameOf)] };
}

/**
 * The list, locked against a concurrent close or reconciliation, and the release the file
 * answers: the one to `partnerId`, or the list's only release.
 */
async function releasedList(raw: RawConnection, listId: number, partnerId: string | undefined): Promise<Release> {
  const list = await raw.query<{ status: string }>('SELECT status FROM payment_lists WHERE id = $1 FOR UPDATE', [listId]);
  if (list.rows.length === 0) throw new NotFoundError(`no payment list ${listId}`);
  const { status } = list.rows[0];
  if (status !== 'released') throw new ConflictError(`list ${listId} is ${status}: only a released list can be reconciled`);
  const releases = await raw.query<{ id: number; partner_id: string; pseudonymised: boolean; expires_on: string; expired: boolean }>(
    `SELECT id, partner_id, pseudonymised, to_char(expires_on, 'YYYY-MM-DD') AS expires_on, expires_on < current_date AS expired
       FROM list_releases WHERE list_id = $1 ORDER BY id`,
    [listId],
  );
  const toRelease = (r: (typeof releases.rows)[number]): Release => {
    // The list is the partner's to use until the release expires; a report after that is refused, like a download.
    if (r.expired) throw new ConflictError(`the release of list ${listId} to ${r.partner_id} expired on ${r.expires_on}: it can no longer be reconciled`);
    return { id: Number(r.id), partnerId: r.partner_id, pseudonymised: r.pseudonymised };
  };
  const partners = releases.rows.map((r) => r.partner_id).join(', ');
  if (partnerId !== undefined) {
    const release = releases.rows.find((r) => r.partner_id === partnerId);
    if (!release) throw new UserError(`list ${listId} was not released to partner ${partnerId}${partners ? ` (released to: ${partners})` : ''}`);
    return toRelease(release);
  }
  if (releases.rows.length === 0) throw new UserError(`list ${listId} has no release to reconcile`);
  if (releases.rows.length > 1) throw new UserError(`list ${listId} was released to ${partners}: say whose file this is with --partner`);
  return toRelease(releases.rows[0]);
}

async function copyToStaging(raw: RawConnection, file: string, header: Header): Promise<{ lines: RecordLines; sha256: string }> {
  const columns = header.names.map((_, i) => `c${i + 1}`);
  await raw.query(`
    CREATE TEMP TABLE reconcile_rows (
      record bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      ${columns.map((c) => `${c} text`).join(', ')}
    ) ON COMMIT DROP`);
  const lines = new RecordLines();
  const hash = createHash('sha256');
  const source = createReadStream(file, { highWaterMark: 1024 * 1024 });
  source.on('data', (chunk) => hash.update(chunk));
  try {
    await raw.copyFrom(
      `COPY reconcile_rows (${columns.join(', ')}) FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')`,
      source.pipe(lines),
    );
  } catch (error) {
    if (error instanceof CopyError) {
      const where = error.line === undefined ? '' : `line ${error.line}: `;
      // PostgreSQL's message may quote the row; keep only its first sentence.
      throw new UserError(`${file}: ${where}${error.message.split('\n')[0]}; nothing was recorded`);
    }
    throw error;
  }
  return { lines, sha256: hash.digest('hex') };
}

/** `nullif(trim(cN), '')` for a column, or NULL when the file does not have it. */
/** A checked paid_at as a time: a bare date is that day at 00:00 UTC, a time without a zone is UTC. */
function paidAt(text: string): string {
  return `CASE WHEN ${text} IS NULL THEN NULL
               WHEN length(${text}) = 10 THEN (${text} || 'T00:00:00Z')::timestamptz
               WHEN ${text} ~ '(Z|[+-][0-9]{2}(:?[0-9]{2})?)$' AND length(${text}) > 16 THEN replace(${text}, ' ', 'T')::timestamptz
               ELSE (replace(${text}, ' ', 'T') || 'Z')::timestamptz END`;
}

function value(header: Header, column: Column): string {
  const staging = header.staging[column];
  return staging ? `nullif(trim(${staging}), '')` : 'NULL::text';
}

/** Each row whose id names a household of the list in this release, with the list's amount. */
async function matchIds(raw: RawConnection, header: Header, listId: number, release: Release): Promise<void> {
  const id = value(header, 'id');
  const [join, params] = release.pseudonymised
    ? [`JOIN release_ids ri ON ri.release_id = $2::bigint AND ri.pseudonymous_id = ${id}
        JOIN payment_list_entries e ON e.list_id = $1::bigint AND e.household_id = ri.household_id`, [listId, release.id]]
    : [`JOIN payment_list_entries e ON e.list_id = $1::bigint AND e.registry_id = ${id}`, [listId]];
  // Our exports put a ' before a registry id a spreadsheet would read as a formula (src/spreadsheet-safe.ts):
  // an id that matches nothing as written is matched without that '.
  const unescaped = release.pseudonymised
    ? ''
    : `UNION ALL
       SELECT r.record, e.household_id, e.amount FROM reconcile_rows r
         JOIN payment_list_entries e ON e.list_id = $1::bigint AND e.registry_id = substr(${id}, 2)
        WHERE left(${id}, 1) = ''''
          AND NOT EXISTS (SELECT 1 FROM payment_list_entries x WHERE x.list_id = $1::bigint AND x.registry_id = ${id})`;
  await raw.query(
    `CREATE TEMP TABLE reconcile_matched ON COMMIT DROP AS
     SELECT r.record, e.household_id, e.amount AS entry_amount FROM reconcile_rows r ${join}
     ${unescaped}`,
    params,
  );
  await raw.query('ALTER TABLE reconcile_matched ADD PRIMARY KEY (record)');
}

async function findProblems(raw: RawConnection, header: Header, listId: number, release: Release): Promise<void> {
  const v = (c: Column) => value(header, c);
  const status = `lower(${v('status')})`;
  const notInRelease = release.pseudonymised
    ? `is not a pseudonymous id of release ${release.id} (partner ${release.partnerId}) of list ${listId}`
    : `is not the registry id of a household on list ${listId}`;
  await raw.query(`CREATE TEMP TABLE reconcile_problems (record bigint NOT NULL, col text NOT NULL, message text NOT NULL, other_record bigint) ON COMMIT DROP`);
  const notADate = `'"' || ${v('paid_at')} || '" is not a date (YYYY-MM-DD or an ISO date-time)'`;
  // [column, message or NULL]. CASE keeps the casts behind the pattern checks that make them safe.
  const rowChecks: [Column, string][] = [
    ['id', `CASE WHEN ${v('id')} IS NULL THEN 'is required' WHEN m.record IS NULL THEN $1::text END`],
    ['list_id', `CASE WHEN $2::text IS NULL THEN NULL
                      WHEN ${v('list_id')} IS NULL THEN 'is empty (this file is for list ${listId})'
                      WHEN ${v('list_id')} <> $2::text THEN 'is list ' || ${v('list_id')} || ', not list ${listId}' END`],
    ['status', `CASE WHEN ${v('status')} IS NULL THEN 'is required (paid or failed)'
                     WHEN ${status} NOT IN ('paid', 'failed') THEN '"' || ${v('status')} || '" is not a status: use paid or failed' END`],
    ['amount', `CASE WHEN ${v('amount')} IS NULL THEN 'is required'
                     WHEN ${v('amount')} !~ '${AMOUNT}' THEN '"' || ${v('amount')} || '" is not an amount (digits and a decimal point)'
                     WHEN m.record IS NOT NULL AND ${v('amount')}::numeric <> m.entry_amount
                       THEN '"' || ${v('amount')} || '" is not the amount on the list (' || m.entry_amount || ')' END`],
    ['reason', `CASE WHEN ${status} = 'failed' AND ${v('reason')} IS NULL THEN 'is required when the status is failed' END`],
    ['paid_at', `CASE WHEN ${v('paid_at')} IS NULL THEN NULL
                      WHEN ${v('paid_at')} !~ '${PAID_AT}' THEN ${notADate}
                      WHEN substr(${v('paid_at')}, 9, 2)::int > extract(day FROM make_date(substr(${v('paid_at')}, 1, 4)::int, substr(${v('paid_at')}, 6, 2)::int, 1)
                                                                         + interval '1 month' - interval '1 day')
                        THEN ${notADate} END`],
  ];
  await raw.query(
    `INSERT INTO reconcile_problems (record, col, message)
     SELECT r.record, p.col, p.message
       FROM reconcile_rows r LEFT JOIN reconcile_matched m USING (record),
       LATERAL (VALUES ${rowChecks.map(([col, check]) => `('${col}', ${check})`).join(', ')}) AS p(col, message)
      WHERE p.message IS NOT NULL`,
    [notInRelease, header.staging.list_id ? String(listId) : null],
  );
  await raw.query(`
    INSERT INTO reconcile_problems (record, col, message, other_record)
    SELECT record, 'id', 'the same id is already on line', first_record
      FROM (SELECT r.record, min(r.record) OVER (PARTITION BY coalesce('household ' || m.household_id, 'id ' || ${v('id')})) AS first_record
              FROM reconcile_rows r LEFT JOIN reconcile_matched m USING (record) WHERE ${v('id')} IS NOT NULL) d
     WHERE record <> first_record`);
}

async function describeProblems(
  raw: RawConnection,
  header: Header,
  lines: RecordLines,
): Promise<{ total: number; rows: number; listed: string[] }> {
  const counts = await raw.query<{ total: number; rows: number }>(
    'SELECT count(*)::int AS total, count(DISTINCT record)::int AS rows FROM reconcile_problems',
  );
  const { total, rows } = counts.rows[0];
  if (total === 0) return { total, rows, listed: [] };
  const result = await raw.query<{ record: number; col: string; message: string; other_record: number | null }>(
    `SELECT record::int, col, message, other_record::int FROM reconcile_problems
      ORDER BY record, array_position($1::text[], col), message LIMIT $2`,
    [COLUMNS, MAX_PROBLEMS],
  );
  // Name the column as the file spells it (e.g. `Amount`).
  const nameOf = (col: string) => {
    const staging = header.staging[col as Column];
    return staging ? header.names[Number(staging.slice(1)) - 1] : col;
  };
  const listed = result.rows.map((p) => {
    const message = p.other_record === null ? p.message : `${p.message} ${lines.lineOf(p.other_record)}`;
    return `line ${lines.lineOf(p.record)}, column ${nameOf(p.col)}: ${message}`;
  });
  return { total, rows, listed };
}

/**
 * Upserts one status per household: a later report replaces an earlier one. A reason is kept only
 * for a failure (the list's export has a `reason` column of its own: why the household is listed).
 */
async function recordStatuses(
  raw: RawConnection,
  header: Header,
  listId: number,
  release: Release,
  reportedIn: string,
): Promise<{ paid: number; failed: number; replaced: number }> {
  const v = (c: Column) => value(header, c);
  const { rows } = await raw.query<{ paid: number; failed: number; replaced: number }>(
    `WITH upserted AS (
       INSERT INTO payment_statuses AS s (list_id, household_id, release_id, status, reason, amount, paid_at, reference, reported_at, reported_in)
       SELECT $1::bigint, m.household_id, $2::bigint, lower(${v('status')}), CASE WHEN lower(${v('status')}) = 'failed' THEN ${v('reason')} END,
              ${v('amount')}::numeric, ${paidAt(v('paid_at'))}, ${v('reference')}, now(), $3::text
         FROM reconcile_rows r JOIN reconcile_matched m USING (record)
        ORDER BY r.record
       ON CONFLICT (list_id, household_id) DO UPDATE
          SET release_id = excluded.release_id, status = excluded.status, reason = excluded.reason, amount = excluded.amount,
              paid_at = excluded.paid_at, reference = excluded.reference, reported_at = excluded.reported_at, reported_in = excluded.reported_in
       RETURNING (xmax = 0) AS inserted, status
     )
     SELECT count(*) FILTER (WHERE status = 'paid')::int AS paid,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE NOT inserted)::int AS replaced
       FROM upserted`,
    [listId, release.id, reportedIn],
  );
  return rows[0];
}
