import type { Store } from '../db/store.ts';
import { UserError } from '../errors.ts';
import type { HazardEventVersion, IndicatorValue } from '../feeds/model.ts';
import { evaluateRule, type AreaDecision, type EvaluationInput } from './evaluate.ts';
import { formatProblem, loadRules, triggerNodes, type UnknownRecord } from './load.ts';
import type { Rule } from './schema.ts';

export interface DryRunReport {
  ruleId: string;
  hash: string;
  asOf: string;
  /** Every area the rule covers, with its decision and evidence. */
  decisions: AreaDecision[];
  /** How many areas are at each stage. */
  stages: Record<AreaDecision['stage'], number>;
}

/**
 * What a rule would decide now (or as of a date), from the indicator values and hazard events in
 * the store, without writing anything: `asp rules dry-run FILE [--at DATE]`.
 */
export async function dryRunRule(store: Store, file: string, asOf: string): Promise<DryRunReport> {
  const { rules, problems } = await loadRules(file);
  if (problems.length > 0) throw new UserError(`${file}: the rule has problems`, problems.map(formatProblem));
  if (rules.length !== 1) throw new UserError(`${file}: give one rule file (found ${rules.length} rules)`);
  const [{ rule, hash }] = rules;
  const decisions = evaluateRule(await evaluationInput(store, rule, asOf));
  const stages = { none: 0, readiness: 0, activation: 0 };
  for (const d of decisions) stages[d.stage]++;
  return { ruleId: rule.id, hash, asOf, decisions, stages };
}

/** The history a rule needs from the store, as known at `asOf` (later data is left out here too). */
export async function evaluationInput(store: Store, rule: Rule, asOf: string): Promise<EvaluationInput> {
  const conditions = triggerNodes(rule as unknown as UnknownRecord).map((visit) => visit.node);
  const fieldOf = (kind: 'indicator' | 'event', field: string) => [
    ...new Set(conditions.flatMap((c) => (c[kind] && typeof c[kind] === 'object' ? [String((c[kind] as UnknownRecord)[field])] : []))),
  ];
  const indicatorNames = fieldOf('indicator', 'name');
  return store.transaction(async ({ raw }) => {
    const areas = await raw.query<{ pcode: string; level: number; parentPcode: string | null }>(
      `SELECT pcode, level, parent_pcode AS "parentPcode" FROM admin_areas`,
    );
    const indicators = await raw.query<IndicatorValue & { knownAt: string }>(
      `SELECT pcode, indicator, to_char(period_start, 'YYYY-MM-DD') AS "periodStart", to_char(period_end, 'YYYY-MM-DD') AS "periodEnd",
              value, status, source, to_char(known_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "knownAt"
         FROM indicator_values WHERE indicator = ANY ($1::text[]) AND known_at <= $2::timestamptz`,
      [indicatorNames, asOf],
    );
    // An event version affects the areas its footprints touch, plus any P-codes it names itself.
    const events = await raw.query<{ row: HazardEventVersion & { knownAt: string; affectedPcodes: string[] } }>(
      `SELECT json_build_object(
                'source', e.source, 'externalId', e.external_id, 'aliases', '[]'::json, 'version', v.version,
                'versionRank', v.version_rank, 'hazard', v.hazard, 'eventAlertLevel', v.event_alert_level,
                'episodeAlertLevel', v.episode_alert_level, 'severity', v.severity, 'footprints', '[]'::json,
                'validFrom', v.valid_from, 'validTo', v.valid_to, 'issuedAt', v.issued_at, 'title', v.title,
                'countries', v.countries, 'link', v.link, 'status', v.status, 'supersedes', v.supersedes,
                'cancels', v.cancels, 'pcodes', v.pcodes, 'properties', v.properties,
                'knownAt', to_char(v.known_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'affectedPcodes', ARRAY(
                  SELECT DISTINCT a.pcode FROM hazard_footprints f
                    JOIN hazard_footprint_parts fp ON fp.footprint_id = f.id
                    JOIN admin_area_parts a ON ST_Intersects(a.geom, fp.geom)
                   WHERE f.version_id = v.id
                  UNION SELECT unnest(v.pcodes))) AS row
         FROM hazard_event_versions v JOIN hazard_events e ON e.id = v.event_id
        WHERE v.known_at <= $1::timestamptz AND v.hazard = ANY ($2::text[])`,
      [asOf, fieldOf('event', 'hazard')],
    );
    return { rule, asOf, areas: areas.rows, indicators: indicators.rows, events: events.rows.map((r) => r.row), gates: [] };
  });
}
