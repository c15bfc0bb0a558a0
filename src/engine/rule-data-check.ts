import type { RawConnection } from '../db/raw.ts';
import type { Store } from '../db/store.ts';
import type { AreaDecision } from '../rules/evaluate.ts';
import { describeRange, loadIndicatorCatalogue, type IndicatorCatalogue } from '../feeds/indicator-catalogue.ts';
import { triggerConditions } from '../rules/load.ts';
import { declaredRanges } from '../rules/plausible-range.ts';
import type { Rule } from '../rules/schema.ts';

/**
 * No silent zeros: what a rule names that the store does not have. A rule whose indicator is
 * spelled `vci3m` while the feed stores `vci_3m` evaluates to nothing and looks like good news;
 * these checks say so instead, with what the store does have.
 *
 * ```ts
 * const warnings = await ruleDataWarnings(raw, rule);   // ['no vci3m from NDMA is stored; 22 areas have vci_3m from NDMA']
 * ```
 */
export async function ruleDataWarnings(raw: RawConnection, rule: Rule): Promise<string[]> {
  const warnings: string[] = [];
  const indicators = triggerConditions(rule, 'indicator');
  const seen = new Set<string>();
  for (const c of indicators) {
    const key = `${c.name}\u0000${c.source}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const { rows } = await raw.query<{ indicator: string; source: string; areas: number; exact: boolean }>(
      `SELECT indicator, source, count(DISTINCT pcode)::int AS areas, (indicator = $1 AND source = $2) AS exact
         FROM indicator_values
        WHERE indicator = $1 OR source = $2
           OR regexp_replace(lower(indicator), '[^a-z0-9]', '', 'g') = regexp_replace(lower($1), '[^a-z0-9]', '', 'g')
        GROUP BY indicator, source ORDER BY exact DESC, areas DESC, indicator, source LIMIT 6`,
      [c.name, c.source],
    );
    if (rows[0]?.exact) continue;
    const near = rows.filter((r) => r.indicator === c.name || r.indicator.replace(/[^a-z0-9]/gi, '').toLowerCase() === c.name.replace(/[^a-z0-9]/gi, '').toLowerCase());
    const alternatives = (near.length ? near : rows).slice(0, 3).map((r) => `${r.areas} area(s) have ${r.indicator} from ${r.source}`);
    warnings.push(`no ${c.name} from ${c.source} is stored${alternatives.length ? `; ${alternatives.join('; ')}` : ''}`);
  }

  warnings.push(...thresholdsOutsideRange(rule, await loadIndicatorCatalogue()));

  for (const e of triggerConditions(rule, 'event')) {
    const { rows } = await raw.query<{ n: number }>(`SELECT count(*)::int AS n FROM hazard_events WHERE source = $1 AND hazard = $2`, [e.source, e.hazard]);
    if (rows[0].n === 0) warnings.push(`no ${e.hazard} event from ${e.source} is stored yet (the rule waits for one)`);
  }

  const programmes = [...new Set([rule.programme, ...rule.response.flatMap((r) => (r.programme ? [r.programme] : []))])];
  const { rows: known } = await raw.query<{ code: string; enrolled: number }>(
    `SELECT p.code, (SELECT count(*)::int FROM enrolments e WHERE e.programme_code = p.code AND e.status = 'active') AS enrolled
       FROM programmes p WHERE p.code = ANY ($1::text[])`,
    [programmes],
  );
  for (const code of programmes) {
    const found = known.find((p) => p.code === code);
    if (!found) warnings.push(`programme ${code} is not in the store (asp programmes add ${code} …)`);
    else if (found.enrolled === 0 && rule.response.some((r) => r.mode === 'vertical' && (r.programme ?? rule.programme) === code)) {
      warnings.push(`programme ${code} has no active beneficiary: a vertical top-up would list nobody`);
    }
  }

  const wanted = [...rule.areas.within, ...(rule.areas.exclude ?? [])];
  const { rows: areas } = await raw.query<{ pcode: string }>(
    `SELECT w AS pcode FROM unnest($1::text[]) w
      WHERE EXISTS (SELECT 1 FROM admin_areas a WHERE a.pcode = w OR a.iso3 = w)`,
    [wanted],
  );
  const missing = wanted.filter((p) => !areas.some((a) => a.pcode === p));
  if (missing.length) warnings.push(`area(s) ${missing.join(', ')} are neither P-codes nor country codes in the store (asp areas import)`);
  const { rows: level } = await raw.query<{ n: number }>(`SELECT count(*)::int AS n FROM admin_areas WHERE level = $1`, [rule.areas.admin_level]);
  if (level[0].n === 0) warnings.push(`no admin areas of level ${rule.areas.admin_level} are stored: the rule covers no area`);
  return warnings;
}

/** `ruleDataWarnings` for several rules, each line prefixed with the rule id. */
export async function warningsForRules(store: Store, rules: Rule[]): Promise<string[]> {
  return store.transaction(async ({ raw }) => {
    const lines: string[] = [];
    for (const rule of rules) for (const w of await ruleDataWarnings(raw, rule)) lines.push(`warning: ${rule.id}: ${w}`);
    return lines;
  });
}

/**
 * Values for periods up to `asOf` that the engine only stored after it: an as-of evaluation does
 * not see them (it replays what was known then). Null when there are none.
 */
export async function storedLaterNote(raw: RawConnection, rule: Rule, asOf: string): Promise<string | null> {
  const names = [...new Set(triggerConditions(rule, 'indicator').map((c) => c.name))];
  const { rows } = await raw.query<{ values: number; first: string | null }>(
    `SELECT count(*)::int AS values, to_char(min(known_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS first
       FROM indicator_values WHERE indicator = ANY ($1::text[]) AND period_end <= $2::timestamptz AND known_at > $2::timestamptz`,
    [names, asOf],
  );
  const { rows: events } = await raw.query<{ versions: number }>(
    `SELECT count(*)::int AS versions FROM hazard_event_versions v
      WHERE v.hazard = ANY ($1::text[]) AND coalesce(v.issued_at, v.valid_from) <= $2::timestamptz AND v.known_at > $2::timestamptz`,
    [[...new Set(triggerConditions(rule, 'event').map((e) => e.hazard))], asOf],
  );
  const parts = [
    rows[0].values > 0 ? `${rows[0].values} indicator value(s) for periods ending by then were stored later (from ${rows[0].first})` : null,
    events[0].versions > 0 ? `${events[0].versions} event version(s) issued by then were stored later` : null,
  ].filter(Boolean);
  if (parts.length === 0) return null;
  return `as of ${asOf}: ${parts.join('; ')}. An as-of evaluation sees only what was stored by then; to replay history as if each value had been known at its period end, use asp backtest`;
}

/**
 * Why the areas that are not triggered are not, grouped and counted, most common first, for the
 * text output of dry run and evaluate: `18 area(s): vci3m 25 ≥ 20 → does not hold (e.g. XD01004)`.
 */
export function notTriggeredReasons(decisions: AreaDecision[], most = 4): string[] {
  const groups = new Map<string, string[]>();
  for (const d of decisions) {
    if (d.stage !== 'none') continue;
    const reason = mainReason(d);
    const list = groups.get(reason);
    if (list) list.push(d.pcode);
    else groups.set(reason, [d.pcode]);
  }
  const sorted = [...groups.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
  const lines = sorted.slice(0, most).map(([reason, pcodes]) => `${pcodes.length} area(s) not triggered: ${reason} (e.g. ${pcodes.slice(0, 3).join(', ')})`);
  const rest = sorted.slice(most).reduce((n, [, pcodes]) => n + pcodes.length, 0);
  if (rest > 0) lines.push(`${rest} more area(s) not triggered for other reasons (--json shows each area's evidence)`);
  return lines;
}

/** One area's main reason, with the area's own P-code and numbers blurred so that alike reasons group. */
function mainReason(d: AreaDecision): string {
  const stop = d.evidence.find((e) => e.kind === 'stop' || e.kind === 'scale_down');
  if (stop && 'text' in stop) return stop.text;
  const failed = d.evidence.find((e) => (e.kind === 'indicator' || e.kind === 'event') && !e.holds);
  const note = d.evidence.find((e) => e.kind === 'note');
  const gate = d.evidence.find((e) => (e.kind === 'gate' || e.kind === 'declaration') && !e.satisfied);
  let text: string;
  if (note && 'text' in note) text = note.text;
  else if (failed?.kind === 'indicator') text = `${failed.indicator} from ${failed.source} does not meet the trigger`;
  else if (failed?.kind === 'event') text = failed.test.replace(/^\S+ affecting \S+: /, `${failed.source} event: `);
  else if (gate && 'name' in gate) text = `waiting for ${gate.name}`;
  else if (d.evidence.length === 0) text = 'no value and no event for the area';
  else text = 'the trigger does not hold';
  return text.replaceAll(d.pcode, 'the area').replace(/ known by \S+/, '');
}

/** Aggregations whose result stays within the range of the values they read. */
const RANGE_KEEPING = new Set(['as_published', 'mean', 'min', 'max', 'median', 'last', 'end_of_season']);

/**
 * A threshold no plausible value can cross is a unit mistake (a percentage threshold on a 0–1
 * share): the rule would never trigger, or always, and nobody would notice.
 */
export function thresholdsOutsideRange(rule: Rule, catalogue: IndicatorCatalogue): string[] {
  const warnings: string[] = [];
  for (const c of triggerConditions(rule, 'indicator')) {
    if (!c.threshold || c.relative_to || (c.aggregation && !RANGE_KEEPING.has(c.aggregation.method))) continue;
    for (const { source, range } of declaredRanges(c, catalogue)) {
      const below = range.min !== undefined && c.threshold.value < range.min;
      const above = range.max !== undefined && c.threshold.value > range.max;
      if (!below && !above) continue;
      warnings.push(`the threshold ${c.threshold.op} ${c.threshold.value} on ${c.name} is outside its plausible values ${describeRange(range)}`
        + ` (${source === 'rule' ? "the rule's range" : 'indicator catalogue'}): the condition can never change; check the unit`);
      break;
    }
  }
  return warnings;
}
