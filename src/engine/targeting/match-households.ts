import type { RawConnection } from '../../db/raw.ts';
import type { Benefit } from '../../rules/schema.ts';
import { areaLimits } from '../area-limits.ts';
import { benefitAmountSql } from '../benefit-sql.ts';
import { reachesSql, ruleReach, selectedParts, type RuleReach } from '../footprint-selection.ts';
import { HouseholdSql } from '../household-sql.ts';
import { prepareDedupe } from './dedupe.ts';
import type { Job } from './job.ts';
import { namedListOverlap } from './named-lists.ts';
import { paymentPlan, priorPaymentsSql } from './prior-payments.ts';

/**
 * Step 1: every registered household of the areas (inside the footprint where there is one), one
 * row each, with why it is left out (or null), its rank among those who qualify, the area's
 * limit (coverage target, caps) and its amount per payment. Written to a temporary table that
 * the next steps read; it is dropped before the transaction ends.
 */
export async function matchHouseholds(raw: RawConnection, job: Job, listId: number, notes: string[]): Promise<void> {
  const { rule, component, benefit, areas } = job;
  const q = new HouseholdSql();
  const who = component.households;
  const programme = component.programme ?? rule.programme;
  const severity = new Map((rule.tiers ?? []).map((t) => [t.id, t.severity]));
  // The one footprint selection (as evaluation): the parts the rule's event conditions select,
  // and a household reaches them when inside (or within the rule's buffer).
  const reach = ruleReach(rule);
  const inFootprint = reachesSql('fp.geom', 'h.location', reach.bufferKm);
  const unlocatedMatched = who.without_location === 'by_area';

  const limits = areaLimits(q, component, areas.map((a) => a.tier), rule.programme);
  if (limits.fromIndicator) notes.push(`the coverage quota from ${limits.fromIndicator} is not read: every qualifying household is listed`);
  const tierAmounts = areas.map((a) => (benefit.kind === 'by_tier' && a.tier !== null ? (benefit.amounts[a.tier] ?? null) : null));
  const act = `SELECT * FROM unnest(${q.param(areas.map((a) => a.activationId), 'bigint[]')}, ${q.param(areas.map((a) => a.pcode), 'text[]')},
                 ${q.param(areas.map((a) => a.tier), 'text[]')}, ${q.param(areas.map((a) => (a.tier === null ? 0 : (severity.get(a.tier) ?? 0))), 'int[]')},
                 ${q.param(limits.coverage, 'numeric[]')}, ${q.param(tierAmounts, 'numeric[]')}, ${q.param(areas.map((a) => a.shockKey), 'text[]')})
               AS a(activation_id, pcode, tier, severity, coverage, tier_amount, shock_key)`;
  // The events behind each area's open shocks (feed events, not indicator episodes or declarations).
  const eventShocks = areas.flatMap((a) => a.shockKeys.filter((k) => /^(gdacs|usgs|cap|ipc):/.test(k)).map((k) => [a.pcode, k] as const));

  // Why a household is left out, in the order the reasons are checked (the first one counts).
  const reasons: [string, string][] = [];
  if (component.mode === 'vertical') reasons.push([`not an active ${programme} beneficiary`, `NOT ${q.enrolledIn([programme])}`]);
  if (who.eligibility) reasons.push(['not eligible', `NOT ${q.condition(who.eligibility)}`]);
  if (who.exclude?.current_beneficiaries_of) {
    reasons.push([`current beneficiary of ${who.exclude.current_beneficiaries_of.join(', ')}`, q.enrolledIn(who.exclude.current_beneficiaries_of)]);
  }
  if (who.exclude?.when) reasons.push(['excluded by the rule', q.condition(who.exclude.when)]);
  for (const requirement of who.requirements ?? []) {
    if (requirement.otherwise !== 'exclude') notes.push(`requirement "${requirement.reason}": households that fail it are listed; ${requirement.otherwise} is handled outside the list`);
    else reasons.push([requirement.reason, `NOT ${q.condition(requirement.condition)}`]);
  }
  // With dedupe_by, another record of the same family (same identifier) counts as the household itself.
  const exclusiveRules = (rule.overlap ?? []).flatMap((o) => (o.policy === 'exclusive' && o.with.rule ? [o.with.rule] : []));
  const dedupe = await prepareDedupe(raw, q, who, { ruleId: rule.id, listId, ruleIds: [rule.id, ...exclusiveRules] });
  for (const overlap of rule.overlap ?? []) {
    if (overlap.policy !== 'exclusive') continue;
    if (overlap.with.programme && overlap.with.programme !== programme) {
      reasons.push([`exclusive with ${overlap.with.programme}`, q.enrolledIn([overlap.with.programme])]);
    }
    if (overlap.with.rule) {
      // same_period: the other rule's lists of this cycle; same_shock: its lists for the household's shock, any cycle.
      const sameShock = overlap.scope === 'same_shock';
      const otherRule = q.param(overlap.with.rule, 'text');
      const cycle = sameShock ? '' : q.param(job.cycle, 'text');
      const scope = sameShock
        ? `EXISTS (SELECT 1 FROM activations oa WHERE oa.id = oe.activation_id AND oa.shock_key = h.shock_key)`
        : `ol.cycle = ${cycle}`;
      const sameFamily = dedupe ? ` OR ${dedupe.onListOf(otherRule, sameShock ? { shock: true } : { cycle })}` : '';
      reasons.push([
        `already on a list of ${overlap.with.rule} ${sameShock ? 'for this shock' : 'this cycle'}`,
        `(EXISTS (SELECT 1 FROM payment_list_entries oe JOIN payment_lists ol ON ol.id = oe.list_id
                   WHERE oe.household_id = h.id AND oe.region = h.region AND ol.rule_id = ${otherRule} AND ${scope}
                     AND ol.status <> 'cancelled' AND ol.id <> ${q.param(listId, 'bigint')})${sameFamily})`,
      ]);
    }
    if (overlap.with.list) {
      const named = await namedListOverlap(raw, q, { ...overlap, with: { list: overlap.with.list } }, {
        ruleId: rule.id, cycle: job.cycle, shockKeys: [...new Set(areas.map((a) => a.shockKey))].sort(),
      });
      reasons.push([named.reason, named.test]);
      notes.push(named.evidence);
    }
  }
  // A shock is paid no more often than the rule says, counting the decided lists of earlier cycles
  // (read once per household, in \`prior_payments\`, which the budget reads too).
  const { perShock } = paymentPlan(component);
  // In FROM behind OFFSET 0, so it runs once per household: as a column of the CTE, which
  // PostgreSQL inlines, it ran once for each place that reads it (three).
  const paidBefore = perShock === null
    ? `SELECT h.*, 0 AS prior_payments FROM members h`
    : `SELECT h.*, p.prior_payments FROM members h
        CROSS JOIN LATERAL (SELECT ${priorPaymentsSql({ household: 'h.id', region: 'h.region', shock: 'h.shock_key', ruleId: q.param(rule.id, 'text') })} AS prior_payments OFFSET 0) p`;
  if (perShock !== null) reasons.push([`already paid ${perShock} of ${perShock} payments for this shock`, `h.prior_payments >= ${q.param(perShock, 'int')}`]);
  // One entry per identifier (e.g. national ID) and shock: a record whose identifier was already listed is a duplicate.
  if (dedupe) reasons.push([dedupe.reason, dedupe.onEarlierList]);
  // The same rule's other components this cycle: one household, one entry per shock and period.
  reasons.push([
    'already on another list of this rule this cycle',
    `EXISTS (SELECT 1 FROM payment_list_entries oe JOIN payment_lists ol ON ol.id = oe.list_id
              WHERE oe.household_id = h.id AND oe.region = h.region AND ol.rule_version_id = ${q.param(job.ruleVersionId, 'bigint')} AND ol.cycle = ${q.param(job.cycle, 'text')}
                AND ol.status <> 'cancelled' AND ol.id <> ${q.param(listId, 'bigint')})`,
  ]);
  // Last, so that it counts the households that would otherwise have been paid.
  if (!unlocatedMatched) reasons.push(['no location: the rule pays households inside the footprint', 'h.outside']);
  const excluded = reasons.length ? `CASE ${reasons.map(([why, test]) => `WHEN ${test} THEN ${q.param(why, 'text')}`).join(' ')} END` : 'NULL::text';
  const counted = limits.counted;
  if (benefit.kind === 'share_of_reference' && benefit.reference.amount === undefined) {
    notes.push(`the reference amount (${benefit.reference.label}) comes from an indicator that is not read: no household can be priced`);
  }
  const amount = benefitAmountSql(q, benefit, { programme, tierAmount: 'h.tier_amount' });
  const order = q.orderBy(who.priority);
  if (who.frozen_list) notes.push('frozen list: ranked by the priority order over the registry as it stands; a stored pre-shock ranking is not used');

  const limit = limits.limit;
  const targetOnly = limits.target;

  // areas.exclude below the rule's level (a ward of a district): its households are not covered.
  const excludedAreas = rule.areas.exclude?.length
    ? `AND NOT EXISTS (SELECT 1 FROM admin_area_ancestors y
                        WHERE y.pcode = h.admin_pcode AND y.ancestor_pcode = ANY (${q.param(rule.areas.exclude, 'text[]')}))`
    : '';
  // A household is matched under one area: the first by P-code when areas in activation nest (a
  // district and one of its wards). Only then is the de-duplicating sort over every match needed.
  const { rows: nesting } = await raw.query<{ nested: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM admin_area_ancestors WHERE ancestor_pcode = ANY ($1::text[]) GROUP BY pcode HAVING count(*) > 1) AS nested`,
    [areas.map((a) => a.pcode)],
  );
  const nested = nesting[0].nested;
  await matchFootprints(raw, eventShocks, reach);
  await raw.query(`DROP TABLE IF EXISTS list_matched`);
  await raw.query(
    `CREATE TEMP TABLE list_matched ON COMMIT DROP AS
     WITH act AS (
       -- With the events whose footprint parts it is matched against (none: matched by area).
       SELECT u.*, ARRAY(SELECT fa.event_key FROM list_footprint_areas fa WHERE fa.pcode = u.pcode) AS events FROM (${act}) u
     ),
     hh AS (${q.households()}),
     members AS (
       SELECT ${nested ? 'DISTINCT ON (h.id)' : ''} a.activation_id, a.shock_key, a.pcode, a.tier, a.severity, a.coverage, a.tier_amount, h.*,
              -- No point under a footprint: not a household of the affected area unless the rule says by_area.
              (${q.param(!unlocatedMatched, 'boolean')} AND h.location IS NULL
                AND cardinality(a.events) > 0) AS outside
         FROM act a
         JOIN admin_area_ancestors x ON x.ancestor_pcode = a.pcode
         JOIN hh h ON h.admin_pcode = x.pcode
        WHERE (h.location IS NULL OR cardinality(a.events) = 0
               OR EXISTS (SELECT 1 FROM list_footprint fp WHERE fp.event_key = ANY (a.events) AND ${inFootprint}))
          ${excludedAreas}
        ${nested ? 'ORDER BY h.id, a.pcode' : ''}
     ),
     paid_before AS (${paidBefore}),
     priced AS (
       SELECT h.*, ${excluded} AS excluded_by_rule, ${counted} AS is_counted, round(${amount}, 2) AS amount,
              ${dedupe ? dedupe.key : 'NULL::text'} AS dedupe_key
         FROM paid_before h
     ),
     -- Duplicates within the list: of the qualifying households sharing an identifier, the best-ranked stays.
     deduped AS (
       SELECT h.*, CASE WHEN h.excluded_by_rule IS NULL AND h.amount IS NOT NULL AND h.dedupe_key IS NOT NULL
                         AND row_number() OVER (PARTITION BY h.excluded_by_rule IS NULL AND h.amount IS NOT NULL, h.dedupe_key ORDER BY ${order}) > 1
                        THEN ${q.param(dedupe?.reason ?? null, 'text')} END AS duplicate
         FROM priced h
     ),
     flagged AS (
       SELECT h.id AS household_id, h.region, h.registry_id, h.admin_pcode, h.pcode, h.activation_id, h.shock_key, h.prior_payments, h.tier, h.severity, h.size,
              h.payment_channel, h.payment_account, h.is_counted AND NOT h.outside AS is_counted, h.outside, h.amount, e.excluded,
              row_number() OVER (PARTITION BY h.pcode COLLATE "C", e.excluded IS NULL ORDER BY ${order}) AS rank,
              -- The area's counts ride on the rank's sort (its partition is a prefix of the rank's):
              -- no second pass over the matched households. Partitions compare P-codes byte-wise
              -- (the same groups, sorted without the locale's rules).
              count(*) FILTER (WHERE NOT h.outside) OVER area AS registered, count(*) FILTER (WHERE e.excluded IS NULL) OVER area AS eligible,
              count(*) FILTER (WHERE h.is_counted AND NOT h.outside) OVER area AS counted
         FROM deduped h
         CROSS JOIN LATERAL (SELECT coalesce(h.excluded_by_rule,
                                             CASE WHEN h.amount IS NULL THEN 'no amount: ' || ${q.param(unpricedReason(benefit), 'text')} END,
                                             h.duplicate) AS excluded) e
       WINDOW area AS (PARTITION BY h.pcode COLLATE "C")
     ),
     limits AS (
       SELECT t.*, ${limit} AS lim, ${targetOnly} AS target
         FROM flagged t JOIN act a ON a.pcode = t.pcode
     )
     SELECT f.household_id, f.region, f.registry_id, f.admin_pcode, f.pcode, f.activation_id, f.shock_key, f.prior_payments, f.tier, f.severity, f.size,
            f.payment_channel, f.payment_account, f.is_counted, f.outside, f.amount, f.rank, f.lim, f.target,
            -- Exclusions and limits are both "left out", counted per reason.
            CASE WHEN f.excluded IS NOT NULL THEN f.excluded
                 WHEN f.target IS NOT NULL AND f.rank > f.target THEN 'beyond the coverage target'
                 WHEN f.lim IS NOT NULL AND f.rank > f.lim THEN 'beyond the per-area cap'
            END AS excluded
       FROM limits f`,
    q.params,
  );
}

/**
 * The parts of the footprints each area's events select, in an indexed temporary table: every
 * household is tested against the parts of its area, and a footprint cut into hundreds of parts
 * (a union of sub-counties) is then an index probe per household, not a walk over every part.
 * Each event's parts are stored once, and `list_footprint_areas` says which events are each
 * area's: when the same drought covers a hundred areas, a household's probe finds the one or two
 * parts under it, not a copy of them per area (which were filtered out one by one: 27 µs a
 * household at 1,000,000, most of the match). An area is there only when its events have parts.
 */
async function matchFootprints(raw: RawConnection, eventShocks: (readonly [string, string])[], reach: RuleReach): Promise<void> {
  const f = new HouseholdSql();
  await raw.query(`DROP TABLE IF EXISTS list_footprint`);
  await raw.query(`DROP TABLE IF EXISTS list_footprint_areas`);
  await raw.query(
    `CREATE TEMP TABLE list_footprint_areas ON COMMIT DROP AS
     SELECT DISTINCT a.pcode, a.event_key
       FROM unnest(${f.param(eventShocks.map(([p]) => p), 'text[]')}, ${f.param(eventShocks.map(([, k]) => k), 'text[]')}) AS a(pcode, event_key)`,
    f.params,
  );
  const g = new HouseholdSql();
  await raw.query(
    `CREATE TEMP TABLE list_footprint ON COMMIT DROP AS
     SELECT k.event_key, p.geom
       FROM (SELECT DISTINCT event_key FROM list_footprint_areas) k
       JOIN hazard_events e ON k.event_key = e.source || ':' || e.external_id
       CROSS JOIN LATERAL ${selectedParts('e.id', reach, (value, type) => g.param(value, type))} p`,
    g.params,
  );
  // An event whose selection has no part does not make its area a footprint area.
  await raw.query(`DELETE FROM list_footprint_areas fa WHERE NOT EXISTS (SELECT 1 FROM list_footprint fp WHERE fp.event_key = fa.event_key)`);
  // Within a buffer the test is on geography (metres), so that is what the index is on.
  await raw.query(reach.bufferKm > 0 ? `CREATE INDEX ON list_footprint USING gist ((geom::geography))` : `CREATE INDEX ON list_footprint USING gist (geom)`);
  await raw.query(`ANALYZE list_footprint`);
}

function unpricedReason(benefit: Benefit): string {
  if (benefit.kind === 'per_member') return `no ${benefit.count_of === 'size' ? 'household size' : benefit.count_of.attribute}`;
  if (benefit.kind === 'by_class') return `no amount for its ${benefit.attribute}`;
  if (benefit.kind === 'by_tier') return 'no amount for the tier';
  return 'the amount cannot be worked out';
}
