import type { RawConnection } from '../db/raw.ts';
import type { Store } from '../db/store.ts';
import { canonicalJson } from '../audit/audit.ts';
import { ConflictError, NotFoundError, UserError } from '../errors.ts';
import { log } from '../log.ts';
import { evaluateRule, type AreaDecision, type Evidence } from '../rules/evaluate.ts';
import type { Rule } from '../rules/schema.ts';
import { evaluationInput } from './evaluation-input.ts';
import { notTriggeredReasons, storedLaterNote } from './rule-data-check.ts';

/**
 * Activations: one per approved rule version × shock × area. The evaluator says, per area, what
 * the rule decides now; this module turns that into rows that only move forward:
 *
 * - a shock is the event that triggered (`gdacs:DR1016449`), the declaration (`declaration:REF`),
 *   or, for indicator rules, the episode, named by the first period that triggered
 *   (`indicator:vci3m:2026-08-01`): while an area keeps triggering, the same activation goes on;
 * - stage readiness → activation, never back; the tier follows the evaluation (scale-up and
 *   scale-down tiers) and every change is kept in `activation_changes`;
 * - an area that stops triggering (a stop or scale-down condition, an event that no longer
 *   qualifies, a trigger that no longer holds) closes its activation with the reason;
 * - a rejected activation stays rejected; a forced one is closed only by a stop condition or a person;
 * - evaluating again with nothing new changes nothing.
 */

export interface ActivationRow {
  id: number;
  ruleVersionId: number;
  ruleId: string;
  ruleHash: string;
  shockKey: string;
  pcode: string;
  areaName: string | null;
  stage: 'readiness' | 'activation';
  tier: string | null;
  status: 'open' | 'rejected' | 'closed';
  forced: boolean;
  waitingFor: string[];
  evidence: Evidence[];
  openedAt: Date;
  openedAsOf: Date;
  evaluatedAsOf: Date;
  confirmedBy: string | null;
  confirmedAt: Date | null;
  closedAt: Date | null;
  closedBy: string | null;
  closedReason: string | null;
  /** The tier's severity in its rule and the rule's highest (null without tiers): for maps and ordering. */
  tierSeverity: number | null;
  maxSeverity: number | null;
}

export interface ActivationChange {
  change: string;
  fromValue: string | null;
  toValue: string | null;
  actor: string;
  reason: string | null;
  asOf: Date | null;
  at: Date;
}

export interface EvaluationSummary {
  asOf: string;
  rules: {
    ruleId: string; hash: string; areas: number; activation: number; readiness: number; waiting: number;
    /** Why the areas not triggered are not, grouped and counted (notTriggeredReasons). */
    notTriggered: string[];
    /** With an as-of date in the past: data for periods before it that was stored after it, or null. */
    storedLater: string | null;
  }[];
  opened: number;
  updated: number;
  closed: number;
  unchanged: number;
  /** Areas that would open again but are inside the rule's cool-down. */
  coolingDown: { ruleId: string; pcode: string; until: string }[];
}

const COLUMNS = `a.id, a.rule_version_id AS "ruleVersionId", a.rule_id AS "ruleId", v.hash AS "ruleHash", a.shock_key AS "shockKey",
  a.pcode, ar.name AS "areaName", a.stage, a.tier, a.status, a.forced, a.waiting_for AS "waitingFor", a.evidence,
  a.opened_at AS "openedAt", a.opened_as_of AS "openedAsOf", a.evaluated_as_of AS "evaluatedAsOf",
  a.confirmed_by AS "confirmedBy", a.confirmed_at AS "confirmedAt", a.closed_at AS "closedAt", a.closed_by AS "closedBy",
  a.closed_reason AS "closedReason",
  (SELECT (t ->> 'severity')::int FROM jsonb_array_elements(coalesce(v.definition -> 'tiers', '[]'::jsonb)) t WHERE t ->> 'id' = a.tier) AS "tierSeverity",
  (SELECT max((t ->> 'severity')::int) FROM jsonb_array_elements(coalesce(v.definition -> 'tiers', '[]'::jsonb)) t) AS "maxSeverity"`;
const FROM = `activations a JOIN rule_versions v ON v.id = a.rule_version_id LEFT JOIN admin_areas ar ON ar.pcode = a.pcode`;

const ENGINE = 'engine';

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/**
 * Evaluates every approved rule version as of `asOf` (default now) from what the store knew then,
 * and opens, moves or closes activations. Runs after each ingest with new data and on `asp evaluate`.
 */
export async function evaluateActivations(store: Store, options: { asOf?: string; ruleId?: string } = {}): Promise<EvaluationSummary> {
  const asOf = options.asOf ?? new Date().toISOString();
  const { rows: versions } = await store.transaction(({ raw }) =>
    raw.query<{ id: number; ruleId: string; hash: string; definition: Rule }>(
      `SELECT id, rule_id AS "ruleId", hash, definition FROM rule_versions
        WHERE status = 'approved' AND ($1::text IS NULL OR rule_id = $1) ORDER BY rule_id`,
      [options.ruleId ?? null],
    ),
  );
  const summary: EvaluationSummary = { asOf, rules: [], opened: 0, updated: 0, closed: 0, unchanged: 0, coolingDown: [] };
  for (const version of versions) {
    // Read first, then write under a lock: the embedded database has one connection, so the
    // read cannot sit inside the writing transaction's queue slot.
    const decisions = evaluateRule(await evaluationInput(store, version.definition, asOf));
    await store.transaction(async ({ raw }) => {
      await raw.query(`SELECT pg_advisory_xact_lock(hashtext('asp-engine:activations'))`);
      await applyDecisions(raw, version, decisions, asOf, summary);
    });
    summary.rules.push({
      ruleId: version.ruleId,
      hash: version.hash,
      areas: decisions.length,
      activation: decisions.filter((d) => d.stage === 'activation').length,
      readiness: decisions.filter((d) => d.stage === 'readiness').length,
      waiting: decisions.filter((d) => d.waitingFor.length > 0).length,
      notTriggered: notTriggeredReasons(decisions),
      storedLater: options.asOf === undefined ? null : await store.transaction(({ raw }) => storedLaterNote(raw, version.definition, asOf)),
    });
  }
  // Activations of versions that are no longer in force end: the new version decides afresh.
  await store.transaction(async ({ raw }) => {
    const { rows } = await raw.query<{ id: number }>(
      `UPDATE activations a SET status = 'closed', closed_at = now(), closed_by = $1, evaluated_as_of = $2::timestamptz, updated_at = now(),
              closed_reason = 'the rule version it used is no longer approved (retired or replaced)'
         FROM rule_versions v
        WHERE v.id = a.rule_version_id AND a.status = 'open' AND v.status <> 'approved' AND ($3::text IS NULL OR a.rule_id = $3)
       RETURNING a.id`,
      [ENGINE, asOf, options.ruleId ?? null],
    );
    for (const row of rows) await recordChange(raw, row.id, 'closed', 'open', 'closed', ENGINE, 'rule version no longer approved', asOf);
    summary.closed += rows.length;
  });
  log.info({ asOf, rules: versions.length, opened: summary.opened, updated: summary.updated, closed: summary.closed }, 'rules evaluated');
  return summary;
}

interface StoredActivation {
  id: number;
  shock_key: string;
  pcode: string;
  stage: 'readiness' | 'activation';
  tier: string | null;
  status: 'open' | 'rejected' | 'closed';
  forced: boolean;
  waiting_for: string[];
  evidence: Evidence[];
}

async function applyDecisions(
  raw: RawConnection,
  version: { id: number; ruleId: string; definition: Rule },
  decisions: AreaDecision[],
  asOf: string,
  summary: EvaluationSummary,
): Promise<void> {
  const { rows: stored } = await raw.query<StoredActivation>(
    `SELECT id, shock_key, pcode, stage, tier, status, forced, waiting_for, evidence FROM activations WHERE rule_version_id = $1`,
    [version.id],
  );
  // How far each activation's response has gone: a stop that applies only before the first
  // notification (a list approved) or the first payment (a list released) no longer ends it after.
  const { rows: progress } = await raw.query<{ id: number; notified: boolean; paid: boolean }>(
    `SELECT la.activation_id AS id, bool_or(l.status IN ('approved', 'released', 'closed')) AS notified, bool_or(l.status IN ('released', 'closed')) AS paid
       FROM payment_list_areas la JOIN payment_lists l ON l.id = la.list_id JOIN activations a ON a.id = la.activation_id
      WHERE a.rule_version_id = $1 GROUP BY la.activation_id`,
    [version.id],
  );
  const reached = new Map(progress.map((p) => [Number(p.id), p]));
  for (const decision of decisions) {
    const mine = stored.filter((a) => a.pcode === decision.pcode);
    const open = mine.filter((a) => a.status === 'open');
    const triggered = decision.stage !== 'none' || decision.waitingFor.length > 0;
    const key = triggered ? shockKey(decision, open) : null;

    // Open activations of this area that the decision no longer carries end here.
    for (const activation of open) {
      if (activation.shock_key === key) continue;
      const reason = closingReason(decision, activation, key, reached.get(Number(activation.id)));
      if (!reason) continue;
      await close(raw, activation.id, reason, asOf);
      summary.closed++;
    }
    if (!key) continue;

    const existing = mine.find((a) => a.shock_key === key);
    const stage = decision.stage === 'none' ? 'readiness' : decision.stage;
    if (!existing) {
      const until = await coolingDownUntil(raw, version, decision.pcode, asOf);
      if (until) {
        summary.coolingDown.push({ ruleId: version.ruleId, pcode: decision.pcode, until });
        continue;
      }
      const { rows } = await raw.query<{ id: number }>(
        `INSERT INTO activations (rule_version_id, rule_id, shock_key, pcode, stage, tier, waiting_for, evidence, opened_as_of, evaluated_as_of)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::timestamptz, $9::timestamptz) RETURNING id`,
        [version.id, version.ruleId, key, decision.pcode, stage, decision.tier, decision.waitingFor, JSON.stringify(decision.evidence), asOf],
      );
      await recordChange(raw, rows[0].id, 'opened', null, describeStage(stage, decision.tier, decision.waitingFor), ENGINE, null, asOf);
      summary.opened++;
      continue;
    }
    if (existing.status !== 'open') {
      summary.unchanged++; // rejected stays rejected; a closed shock does not reopen
      continue;
    }
    // Stages only move forward; a forced activation keeps its stage.
    const nextStage = existing.stage === 'activation' ? 'activation' : stage;
    const nextTier = nextStage === 'activation' && decision.stage === 'activation' ? decision.tier : existing.tier;
    const waiting = existing.forced ? [] : decision.waitingFor; // a person overrode the gates
    const changes: [string, string | null, string | null][] = [];
    if (nextStage !== existing.stage) changes.push(['stage', existing.stage, nextStage]);
    if (nextTier !== existing.tier) changes.push(['tier', existing.tier, nextTier]);
    if (!sameList(existing.waiting_for, waiting)) changes.push(['waiting', existing.waiting_for.join(', ') || null, waiting.join(', ') || null]);
    if (changes.length === 0 && sameEvidence(existing.evidence, decision.evidence)) {
      summary.unchanged++;
      continue;
    }
    if (changes.length === 0) changes.push(['evidence', null, null]);
    await raw.query(
      `UPDATE activations SET stage = $2, tier = $3, waiting_for = $4, evidence = $5, evaluated_as_of = $6::timestamptz, updated_at = now() WHERE id = $1`,
      [existing.id, nextStage, nextTier, waiting, JSON.stringify(decision.evidence), asOf],
    );
    for (const [change, from, to] of changes) await recordChange(raw, existing.id, change, from, to, ENGINE, null, asOf);
    summary.updated++;
  }
}

/**
 * Which shock the decision belongs to: an event or declaration that holds (preferring one the
 * area already has open), else the indicator episode already open, else a new episode named by
 * the earliest period in the evidence that holds.
 */
export function shockKey(decision: AreaDecision, open: { shock_key: string }[]): string {
  const candidates: string[] = [];
  for (const e of decision.evidence) {
    if (e.kind === 'event' && e.holds) candidates.push(`${e.source}:${e.externalId}`);
    if (e.kind === 'declaration' && e.satisfied && 'id' in e && e.id) candidates.push(`declaration:${e.id}`);
  }
  const sorted = [...new Set(candidates)].sort();
  const continuing = open.find((a) => sorted.includes(a.shock_key));
  if (continuing) return continuing.shock_key;
  if (sorted.length > 0) return sorted[0];
  const episode = open.find((a) => a.shock_key.startsWith('indicator:'));
  if (episode) return episode.shock_key;
  const periods = decision.evidence.filter((e) => e.kind === 'indicator' && e.holds) as Extract<Evidence, { kind: 'indicator' }>[];
  if (periods.length > 0) {
    const first = periods.reduce((a, b) => (b.periodStart < a.periodStart ? b : a));
    return `indicator:${first.indicator}:${first.periodStart}`;
  }
  return `manual:${decision.pcode}`;
}

/** Why an open activation not carried by this decision should close, or null to leave it open. */
function closingReason(
  decision: AreaDecision, activation: StoredActivation, key: string | null, progress: { notified: boolean; paid: boolean } | undefined,
): string | null {
  const stop = decision.evidence.find((e) => e.kind === 'stop' || e.kind === 'scale_down');
  if (stop?.kind === 'stop' && stop.onlyBefore && stop.onlyBefore !== 'any_time') {
    const passed = stop.onlyBefore === 'first_notification' ? progress?.notified : progress?.paid;
    // Households were told (or paid): the response goes on as agreed.
    if (passed) return null;
  }
  if (stop && 'text' in stop) return stop.text;
  if (activation.forced) return null; // forced by a person: only a stop condition or a person ends it
  if (key === null) {
    const note = decision.evidence.find((e) => e.kind === 'note');
    return `the trigger no longer holds${note && 'text' in note ? ` (${note.text})` : ''}`;
  }
  // The area is triggered by another shock: an event or declaration that no longer qualifies ends.
  if (!activation.shock_key.startsWith('indicator:')) return `${activation.shock_key} no longer meets the trigger`;
  const indicatorHolds = decision.evidence.some((e) => e.kind === 'indicator' && e.holds);
  return indicatorHolds ? null : 'the indicator trigger no longer holds';
}

/** The end of the cool-down after the area's last activation of this rule ended, if still running. */
async function coolingDownUntil(raw: RawConnection, version: { ruleId: string; definition: Rule }, pcode: string, asOf: string): Promise<string | null> {
  const coolDown = version.definition.cool_down;
  if (!coolDown) return null;
  const days = coolDown.days ?? (coolDown.periods ?? 0) * periodDays(version.definition);
  if (days <= 0) return null;
  const { rows } = await raw.query<{ until: string }>(
    `SELECT to_char((max(evaluated_as_of) + make_interval(days => $3)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS until
       FROM activations WHERE rule_id = $1 AND pcode = $2 AND status = 'closed' AND stage = 'activation'
     HAVING max(evaluated_as_of) + make_interval(days => $3) > $4::timestamptz`,
    [version.ruleId, pcode, days, asOf],
  );
  return rows[0]?.until ?? null;
}

/** Days in one monitoring period, for cool-downs given in periods (a month counts as 30 days). */
function periodDays(rule: Rule): number {
  const cadence = rule.monitoring?.cadence;
  return cadence === 'daily' ? 1 : cadence === 'weekly' ? 7 : cadence === 'dekadal' ? 10 : cadence === 'seasonal' ? 91 : 30;
}

async function close(raw: RawConnection, id: number, reason: string, asOf: string, actor = ENGINE): Promise<void> {
  await raw.query(
    `UPDATE activations SET status = 'closed', closed_at = now(), closed_by = $2, closed_reason = $3, evaluated_as_of = $4::timestamptz, updated_at = now()
      WHERE id = $1`,
    [id, actor, reason, asOf],
  );
  await recordChange(raw, id, 'closed', 'open', 'closed', actor, reason, asOf);
}

async function recordChange(
  raw: RawConnection, id: number, change: string, from: string | null, to: string | null, actor: string, reason: string | null, asOf: string | null,
): Promise<void> {
  await raw.query(
    `INSERT INTO activation_changes (activation_id, change, from_value, to_value, actor, reason, as_of) VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz)`,
    [id, change, from, to, actor, reason, asOf],
  );
}

function describeStage(stage: string, tier: string | null, waitingFor: string[]): string {
  return `${stage}${tier ? ` (${tier})` : ''}${waitingFor.length ? `, waiting for ${waitingFor.join(', ')}` : ''}`;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Evidence compared without notes, which may mention the evaluation time and change every run,
 * and with keys sorted, because jsonb stores object keys in its own order.
 */
function sameEvidence(a: Evidence[], b: Evidence[]): boolean {
  const facts = (list: Evidence[]) => canonicalJson(list.filter((e) => e.kind !== 'note'));
  return facts(a) === facts(b);
}


// ---------------------------------------------------------------------------------------------
// Coordinators
// ---------------------------------------------------------------------------------------------

export async function listActivations(store: Store, filter: { status?: string; ruleId?: string } = {}): Promise<ActivationRow[]> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<ActivationRow>(
      `SELECT ${COLUMNS} FROM ${FROM}
        WHERE ($1::text IS NULL OR a.status = $1) AND ($2::text IS NULL OR a.rule_id = $2)
        ORDER BY a.rule_id, a.pcode, a.id`,
      [filter.status ?? null, filter.ruleId ?? null],
    ),
  );
  return rows;
}

export async function getActivation(store: Store, id: number): Promise<ActivationRow & { changes: ActivationChange[] }> {
  return store.transaction(async ({ raw }) => {
    const activation = await findActivation(raw, id);
    const { rows: changes } = await raw.query<ActivationChange>(
      `SELECT change, from_value AS "fromValue", to_value AS "toValue", actor, reason, as_of AS "asOf", at
         FROM activation_changes WHERE activation_id = $1 ORDER BY id`,
      [id],
    );
    return { ...activation, changes };
  });
}

async function findActivation(raw: RawConnection, id: number): Promise<ActivationRow> {
  const { rows } = await raw.query<ActivationRow>(`SELECT ${COLUMNS} FROM ${FROM} WHERE a.id = $1`, [id]);
  if (rows.length === 0) throw new NotFoundError(`activation ${id} does not exist (asp activations list)`);
  return rows[0];
}

function requireReason(actor: string, reason: string): void {
  if (!actor?.trim()) throw new UserError('say who you are: --by NAME (recorded with the decision)');
  if (!reason?.trim()) throw new UserError('give the reason: --reason TEXT (recorded with the decision)');
}

/**
 * A coordinator confirms an open activation: every manual gate it waits for (or only `gates`) is
 * recorded as confirmed for its rule and area, and the rule is evaluated again at once so the
 * activation moves on. Confirming one that waits for nothing records the coordinator's sign-off.
 */
export async function confirmActivation(
  store: Store, id: number, actor: string, reason: string, options: { gates?: string[]; asOf?: string } = {},
): Promise<ActivationRow> {
  requireReason(actor, reason);
  const activation = await store.transaction(async ({ raw }) => {
    const found = await findActivation(raw, id);
    if (found.status !== 'open') throw new ConflictError(`activation ${id} is ${found.status}; only an open activation can be confirmed`);
    const kinds = found.waitingFor.map((name) => name.split(':')[0]);
    const chosen = options.gates ?? kinds;
    const unknown = chosen.filter((g) => !kinds.includes(g));
    if (unknown.length > 0) throw new UserError(`activation ${id} does not wait for ${unknown.join(', ')} (it waits for: ${found.waitingFor.join(', ') || 'nothing'})`);
    for (const kind of new Set(chosen)) {
      await raw.query(
        `INSERT INTO gate_confirmations (rule_id, pcode, gate_kind, activation_id, confirmed_by, reason) VALUES ($1, $2, $3, $4, $5, $6)`,
        [found.ruleId, found.pcode, kind, id, actor, reason],
      );
    }
    await raw.query(`UPDATE activations SET confirmed_by = $2, confirmed_at = now(), updated_at = now() WHERE id = $1`, [id, actor]);
    await recordChange(raw, id, 'confirmed', chosen.join(', ') || null, null, actor, reason, null);
    return found;
  });
  await evaluateActivations(store, { ruleId: activation.ruleId, asOf: options.asOf });
  return getActivation(store, id);
}

/** A coordinator rejects an open activation: it stays rejected whatever later evaluations say. */
export async function rejectActivation(store: Store, id: number, actor: string, reason: string): Promise<ActivationRow> {
  requireReason(actor, reason);
  return store.transaction(async ({ raw }) => {
    const found = await findActivation(raw, id);
    if (found.status !== 'open') throw new ConflictError(`activation ${id} is ${found.status}; only an open activation can be rejected`);
    await raw.query(
      `UPDATE activations SET status = 'rejected', closed_at = now(), closed_by = $2, closed_reason = $3, updated_at = now() WHERE id = $1`,
      [id, actor, reason],
    );
    await recordChange(raw, id, 'rejected', 'open', 'rejected', actor, reason, null);
    return findActivation(raw, id);
  });
}

/**
 * A coordinator forces an open activation to the activation stage although the rule does not (yet)
 * say so, e.g. when data is missing: the gates it waited for are overridden, the reason is kept.
 */
export async function forceActivation(store: Store, id: number, actor: string, reason: string): Promise<ActivationRow> {
  requireReason(actor, reason);
  return store.transaction(async ({ raw }) => {
    const found = await findActivation(raw, id);
    if (found.status !== 'open') throw new ConflictError(`activation ${id} is ${found.status}; only an open activation can be forced`);
    if (found.stage === 'activation' && found.waitingFor.length === 0) throw new ConflictError(`activation ${id} is already at the activation stage`);
    await raw.query(
      `UPDATE activations SET stage = 'activation', forced = true, waiting_for = '{}', confirmed_by = $2, confirmed_at = now(), updated_at = now() WHERE id = $1`,
      [id, actor],
    );
    await recordChange(raw, id, 'forced', found.stage, 'activation', actor, reason, null);
    return findActivation(raw, id);
  });
}

/** A coordinator ends an open activation (e.g. the response is over). */
export async function closeActivation(store: Store, id: number, actor: string, reason: string): Promise<ActivationRow> {
  requireReason(actor, reason);
  return store.transaction(async ({ raw }) => {
    const found = await findActivation(raw, id);
    if (found.status !== 'open') throw new ConflictError(`activation ${id} is ${found.status} already`);
    await close(raw, id, reason, new Date().toISOString(), actor);
    return findActivation(raw, id);
  });
}
