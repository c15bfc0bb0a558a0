import type { SeasonRecord } from '../areas/season-calendar.ts';
import type { Store } from '../db/store.ts';
import { loadIndicatorCatalogue } from '../feeds/indicator-catalogue.ts';
import type { HazardEventVersion, IndicatorValue } from '../feeds/model.ts';
import type { EvaluationInput, GateRecord } from '../rules/evaluate.ts';
import { triggerConditions } from '../rules/load.ts';
import { reachesSql, ruleReach } from './footprint-selection.ts';
import type { Rule } from '../rules/schema.ts';

export type RuleHistory = Pick<EvaluationInput, 'areas' | 'indicators' | 'events' | 'gates' | 'seasons' | 'catalogue'>;

/**
 * How records count as known.
 * - `live` (evaluation, dry run): as stored, and only what was stored by `asOf`, with the
 *   coordinators' gate confirmations.
 * - `backtest`: the whole archive, each final value known at its period end, each forecast issue
 *   at its issue time, each event version at its issue (else valid-from) time and each declaration
 *   on the day declared, whenever it was loaded. No confirmations: people's decisions are not replayed.
 */
export type HistoryMode = { live: string } | { backtest: true };

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
/**
 * A footprint affects the lowest areas it touches; their ancestors follow from the hierarchy.
 * Counting the region a footprint touches would affect every district of that region.
 */
const LEAF = `NOT EXISTS (SELECT 1 FROM admin_areas c WHERE c.parent_pcode = a.pcode)`;

/** The indicator values, event versions, declarations (and confirmations) a rule reads, in one transaction. */
export async function readRuleHistory(store: Store, rule: Rule, mode: HistoryMode): Promise<RuleHistory> {
  const indicatorNames = [...new Set(triggerConditions(rule, 'indicator').map((c) => c.name))];
  const hazards = [...new Set(triggerConditions(rule, 'event').map((c) => c.hazard))];
  const live = 'live' in mode;
  const asOf = live ? mode.live : null;
  const valueKnownAt = live
    ? `to_char(known_at AT TIME ZONE 'UTC', ${ISO})`
    : `CASE WHEN status = 'final' THEN to_char(period_end, 'YYYY-MM-DD"T00:00:00.000Z"') ELSE to_char(issued_at AT TIME ZONE 'UTC', ${ISO}) END`;
  const versionKnownAt = live ? 'v.known_at' : 'coalesce(v.issued_at, v.valid_from, v.known_at)';
  // The footprint selection's parts (areal only, unless the rule buffers) and how they reach areas.
  const reach = ruleReach(rule);
  const buffered = reach.bufferKm > 0;
  const reaches = reachesSql('part.geom', 'a.geom', reach.bufferKm);
  const catalogue = await loadIndicatorCatalogue();
  return store.transaction(async ({ raw }) => {
    const areas = await raw.query<RuleHistory['areas'][number]>(`SELECT pcode, level, parent_pcode AS "parentPcode", iso3 FROM admin_areas`);
    const indicators = await raw.query<IndicatorValue & { knownAt: string }>(
      `SELECT pcode, indicator, to_char(period_start, 'YYYY-MM-DD') AS "periodStart", to_char(period_end, 'YYYY-MM-DD') AS "periodEnd",
              value, status, source, ${valueKnownAt} AS "knownAt", CASE WHEN status = 'forecast' THEN to_char(issued_at AT TIME ZONE 'UTC', ${ISO}) END AS "issuedAt"
         FROM indicator_values WHERE indicator = ANY ($1::text[]) AND ($2::timestamptz IS NULL OR known_at <= $2::timestamptz)`,
      [indicatorNames, asOf],
    );
    // Each footprint carries the lowest areas its selected parts reach (`pcodes`), whether it has
    // any (`areal`), and else the areas it merely touches, for the evidence; the evaluator picks
    // the footprints a condition names (footprintSelected, the twin of footprint_selected) and
    // derives the event's areas from them; `affectedPcodes` is then only the P-codes it names itself.
    const events = await raw.query<{ row: HazardEventVersion & { knownAt: string; affectedPcodes: string[] } }>(
      `SELECT json_build_object(
                'source', e.source, 'externalId', e.external_id, 'aliases', '[]'::json, 'version', v.version,
                'versionRank', v.version_rank, 'hazard', v.hazard, 'eventAlertLevel', v.event_alert_level,
                'episodeAlertLevel', v.episode_alert_level, 'severity', v.severity, 'footprintsOnly', v.footprints_only,
                'footprints', (SELECT coalesce(json_agg(json_build_object('class', f.class, 'value', f.value, 'unit', f.unit, 'label', f.label,
                                 'areal', r.areal, 'pcodes', r.pcodes,
                                 'touched', CASE WHEN NOT r.areal THEN ARRAY(SELECT DISTINCT a.pcode FROM hazard_footprint_parts part
                                                   JOIN admin_area_parts a ON ST_Intersects(part.geom, a.geom)
                                                  WHERE part.footprint_id = f.id AND ${LEAF}) END) ORDER BY f.class, f.seq), '[]'::json)
                                 FROM hazard_footprints f
                                 CROSS JOIN LATERAL (
                                   SELECT ${buffered} OR EXISTS (SELECT 1 FROM footprint_parts(f.id, false)) AS areal,
                                          ARRAY(SELECT DISTINCT a.pcode FROM footprint_parts(f.id, ${buffered}) AS part(geom)
                                                  JOIN admin_area_parts a ON ${reaches} WHERE ${LEAF}) AS pcodes) r
                                WHERE f.version_id = v.id),
                'validFrom', v.valid_from, 'validTo', v.valid_to, 'issuedAt', v.issued_at, 'title', v.title,
                'countries', v.countries, 'link', v.link, 'status', v.status, 'supersedes', v.supersedes,
                'cancels', v.cancels, 'pcodes', v.pcodes, 'properties', v.properties,
                'knownAt', to_char(${versionKnownAt} AT TIME ZONE 'UTC', ${ISO}),
                'affectedPcodes', v.pcodes) AS row
         FROM hazard_event_versions v JOIN hazard_events e ON e.id = v.event_id
        WHERE v.hazard = ANY ($1::text[]) AND ($2::timestamptz IS NULL OR v.known_at <= $2::timestamptz)`,
      [hazards, asOf],
    );
    // Coordinators' confirmations of this rule's gates (live only), and declarations. A drawn
    // declaration polygon covers the rule's areas (at the rule's admin level) that it intersects.
    const gates = await raw.query<GateRecord>(
      `SELECT gate_kind AS kind, ARRAY[pcode] AS pcodes, to_char(confirmed_at AT TIME ZONE 'UTC', ${ISO}) AS at,
              'confirmation ' || id AS id, NULL AS hazard, NULL AS issuer, NULL AS "validUntil"
         FROM gate_confirmations WHERE $4 AND rule_id = $1 AND confirmed_at <= $2::timestamptz
       UNION ALL
       SELECT d.kind, d.pcodes || ARRAY(
                SELECT DISTINCT a.pcode FROM admin_area_parts a
                 WHERE d.geom IS NOT NULL AND a.level = $3 AND ST_Intersects(a.geom, d.geom)),
              to_char(d.declared_on, 'YYYY-MM-DD"T00:00:00.000Z"'), d.reference, d.hazard, d.issuer, to_char(d.valid_until, 'YYYY-MM-DD')
         FROM declarations d WHERE $2::timestamptz IS NULL OR d.recorded_at <= $2::timestamptz
        ORDER BY 3, 4`,
      [rule.id, asOf, rule.areas.admin_level, live],
    );
    // Absent details are left out rather than null, as the evaluator's input expects.
    const gateInput = gates.rows.map((g) => Object.fromEntries(Object.entries(g).filter(([, v]) => v !== null)) as GateRecord);
    // Season calendars (end_of_season): small, read whole.
    const seasons = await raw.query<SeasonRecord>(`SELECT pcode, season, start_md AS start, end_md AS "end" FROM area_seasons ORDER BY pcode, season`);
    return { areas: areas.rows, indicators: indicators.rows, events: events.rows.map((r) => r.row), gates: gateInput, seasons: seasons.rows, catalogue };
  });
}

/** The history a rule needs from the store, as known at `asOf` (later data is left out). */
export async function evaluationInput(store: Store, rule: Rule, asOf: string): Promise<EvaluationInput> {
  return { rule, asOf, ...(await readRuleHistory(store, rule, { live: asOf })) };
}
