import type { RawConnection } from '../../db/raw.ts';
import type { ResponseComponent } from '../../rules/schema.ts';
import type { Cut, Job } from './job.ts';
import { envelopeSpent, type PaymentPlan } from './prior-payments.ts';

/**
 * Step 2: the budget. Candidates cost amount × their payments (× 1 for a per-cycle envelope).
 * An envelope per shock or per year is what is left of it after the decided lists of the rule
 * before this one (every version and component): per shock, each shock of the list draws on its
 * own envelope; per year, the calendar year of the cycle. When the total exceeds what is left the
 * rule's steps apply in order: fund the most severe tiers first (whole tiers while they fit), then
 * in the tier where money runs out reduce the caseload pro rata to the areas' registered
 * households, or stop when exhausted, or (only when the rule allows it) reduce the value pro rata.
 * The overall household and amount caps cut the same way, and hold over the whole list.
 * Households keep their rank order within an area: the lowest-priority go first.
 */
export async function applyBudgetAndInsert(raw: RawConnection, job: Job, listId: number, plan: PaymentPlan, notes: string[]): Promise<Cut[]> {
  const { rule, component, benefit } = job;
  const budget = rule.budget;
  const overall = component.caps?.overall;
  let envelope: number | null = null;
  let perPayment = false;
  let deductPer: 'shock' | 'year' | null = null;
  if (budget) {
    if (budget.envelope.currency !== benefit.currency) {
      notes.push(`the envelope is in ${budget.envelope.currency}, the benefit in ${benefit.currency}: the budget is not applied (no conversion)`);
    } else {
      envelope = budget.envelope.amount;
      perPayment = budget.envelope.per === 'cycle';
      if (budget.envelope.per === 'year' || budget.envelope.per === 'shock') deductPer = budget.envelope.per;
    }
  }
  // The overall amount cap is per list: it limits each shock's envelope and, below, the whole list.
  const overallAmount = overall?.amount ?? null;
  if (overallAmount !== null && (envelope === null || overallAmount < envelope)) perPayment = false;
  const steps = budget?.over_budget ?? ['stop_when_exhausted'];
  const bySeverity = steps[0] === 'fund_most_severe_first';
  const partialStep = (bySeverity ? steps[1] : steps[0]) ?? 'stop_when_exhausted';
  const valueAllowed = Boolean(budget?.allow_value_reduction);
  if (partialStep === 'reduce_value_pro_rata' && !valueAllowed) notes.push('reduce_value_pro_rata needs allow_value_reduction: true; the caseload is cut instead');
  if (partialStep === 'shorten_duration') notes.push('shorten_duration is not applied to a list: the caseload is cut when the money runs out');
  const mode = partialStep === 'reduce_caseload_pro_rata' ? 'pro_rata' : partialStep === 'reduce_value_pro_rata' && valueAllowed ? 'value' : 'stop';
  const proRataBy = budget?.pro_rata_by === 'eligible_households' ? 'eligible' : budget?.pro_rata_by === 'targeted_households' ? 'targeted' : 'registered';
  const start = firstPayment(component, job, notes);

  // What was already taken from the envelope, per pot (a shock key, or ''), read once: the notes
  // say what decided lists took; the budget below deducts that and this cycle's earlier components.
  const year = job.cycle.slice(0, 4);
  const spent = await envelopeSpent(raw, {
    ruleId: rule.id, ruleVersionId: job.ruleVersionId, cycle: job.cycle, component: job.index, per: deductPer ?? 'none', perPayment,
  });
  if (envelope !== null && deductPer !== null) {
    const shocks = deductPer === 'shock' ? [...new Set(job.areas.map((a) => a.shockKey))].sort() : [''];
    for (const pot of shocks) {
      const taken = Number(spent.find((s) => s.pot === pot)?.decided ?? 0);
      const where = deductPer === 'shock' ? `shock ${pot}` : `year ${year}`;
      notes.push(`envelope per ${deductPer} (${where}): ${envelope} ${benefit.currency}, of which ${taken} taken by earlier approved lists of ${rule.id}; ${Math.max(0, envelope - taken)} left for this list`);
    }
  }

  // The candidates' parameters, then the decision's (numbered after them): a statement binds only what it uses.
  const p = namedParams({
    envelope: [envelope, 'numeric'], perPayment: [perPayment, 'boolean'], bySeverity: [bySeverity, 'boolean'],
    overallAmount: [overallAmount, 'numeric'],
    perList: [plan.perList, 'int'], perShock: [plan.perShock, 'int'], deductPer: [deductPer ?? 'none', 'text'],
    pots: [spent.map((s) => s.pot), 'text[]'], potSpent: [spent.map((s) => s.total), 'numeric[]'],
  });
  const decision = namedParams({ mode: [mode, 'text'], overallHouseholds: [overall?.households ?? null, 'int'], proRataBy: [proRataBy, 'text'] }, p.values.length);
  // The envelope is the rule's, not each component's (envelopeSpent: decided lists and this
  // cycle's earlier components).
  const candidates = `
     spent AS (SELECT * FROM unnest(${p.pots}, ${p.potSpent}) AS s(pot, spent)),
     cand AS (
       SELECT m.*, pay.payments, m.amount * (CASE WHEN ${p.perPayment} THEN 1 ELSE pay.payments END) AS cost,
              CASE WHEN ${p.bySeverity} THEN m.severity ELSE 0 END AS grp,
              CASE WHEN ${p.deductPer} = 'shock' THEN m.shock_key ELSE '' END AS pot
         FROM list_matched m
         -- The payments still due for the shock (those already paid were left out as they were matched).
         CROSS JOIN LATERAL (
           SELECT CASE WHEN ${p.perShock} IS NULL THEN ${p.perList} ELSE least(${p.perList}, ${p.perShock} - m.prior_payments) END AS payments) pay
        WHERE m.excluded IS NULL
     ),
     pot_envelope AS (
       -- least and greatest skip NULLs: no envelope (NULL) must stay no limit, not become 0.
       SELECT c.pot, coalesce(max(s.spent), 0) AS spent,
              least(CASE WHEN ${p.envelope} IS NOT NULL THEN greatest(0, ${p.envelope} - coalesce(max(s.spent), 0)) END, ${p.overallAmount}) AS envelope
         FROM (SELECT DISTINCT pot FROM cand) c LEFT JOIN spent s ON s.pot = c.pot GROUP BY c.pot
     ),
     grp_before AS (
       SELECT pot, grp, total, coalesce(sum(total) OVER (PARTITION BY pot ORDER BY grp DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
         FROM (SELECT pot, grp, sum(cost) AS total FROM cand GROUP BY pot, grp) t
     )`;
  // Most lists fit their envelope whole: every group's money (with the groups funded before it) is
  // within what is left, and no overall cap applies. Then every candidate is kept, which the
  // decision below would also say, without ranking every candidate across the list three times.
  const { rows: fitting } = await raw.query<{ fits: boolean }>(
    `WITH ${candidates}
     SELECT coalesce(bool_and(e.envelope IS NULL OR g.before + g.total <= e.envelope), true) AS fits
       FROM grp_before g JOIN pot_envelope e ON e.pot = g.pot`,
    p.values,
  );
  const allKept = fitting[0].fits && (overall?.households ?? null) === null && overallAmount === null;
  if (allKept) {
    await insertEntries(raw, job, listId, start, `WITH ${candidates} SELECT c.*, 'keep' AS outcome, 1 AS factor FROM cand c`, p.values);
    return [];
  }
  await raw.query(
    `CREATE TEMP TABLE list_decided ON COMMIT DROP AS
     WITH ${candidates},
     area_base AS (
       SELECT pcode, count(*) FILTER (WHERE NOT outside) AS registered, count(*) FILTER (WHERE excluded IS NULL OR excluded LIKE 'beyond%') AS eligible
         FROM list_matched GROUP BY pcode
     ),
     area_weight AS (
       SELECT c.pot, c.grp, c.pcode,
              CASE ${decision.proRataBy} WHEN 'eligible' THEN max(b.eligible) WHEN 'targeted' THEN count(*) ELSE max(b.registered) END AS weight
         FROM cand c JOIN area_base b ON b.pcode = c.pcode GROUP BY c.pot, c.grp, c.pcode
     ),
     grp_weight AS (SELECT pot, grp, sum(weight) AS weight FROM area_weight GROUP BY pot, grp),
     ranked AS (
       SELECT c.*, e.envelope, e.spent AS pot_spent, g.total AS grp_total, g.before AS grp_before, w.weight AS area_weight, gw.weight AS grp_weight,
              sum(c.cost) OVER (PARTITION BY c.pot, c.grp, c.pcode ORDER BY c.rank ROWS UNBOUNDED PRECEDING) AS area_cum,
              sum(c.cost) OVER (PARTITION BY c.pot, c.grp ORDER BY c.pcode, c.rank ROWS UNBOUNDED PRECEDING) AS grp_cum,
              row_number() OVER (ORDER BY c.grp DESC, c.pcode, c.rank) AS overall_rank
         FROM cand c JOIN pot_envelope e ON e.pot = c.pot JOIN grp_before g ON g.pot = c.pot AND g.grp = c.grp
         JOIN area_weight w ON w.pot = c.pot AND w.grp = c.grp AND w.pcode = c.pcode JOIN grp_weight gw ON gw.pot = c.pot AND gw.grp = c.grp
     ),
     decided AS (
       SELECT r.*,
              CASE WHEN r.envelope IS NULL OR r.grp_before + r.grp_total <= r.envelope THEN 'keep'
                   WHEN r.envelope = 0 AND r.pot_spent > 0 THEN 'cut_spent'
                   WHEN r.grp_before >= r.envelope THEN 'cut_severity'
                   WHEN ${decision.mode} = 'value' THEN 'keep_reduced'
                   WHEN ${decision.mode} = 'pro_rata' AND r.area_cum <= (r.envelope - r.grp_before) * r.area_weight / r.grp_weight THEN 'keep'
                   WHEN ${decision.mode} = 'stop' AND r.grp_cum <= r.envelope - r.grp_before THEN 'keep'
                   ELSE 'cut_' || ${decision.mode} END AS decision,
              CASE WHEN ${decision.mode} = 'value' AND r.grp_total > 0 THEN (r.envelope - r.grp_before) / r.grp_total ELSE 1 END AS factor
         FROM ranked r
     ),
     kept AS (
       SELECT d.*,
              count(*) FILTER (WHERE d.decision LIKE 'keep%') OVER (ORDER BY d.overall_rank ROWS UNBOUNDED PRECEDING) AS kept_households,
              sum(CASE WHEN d.decision = 'keep_reduced' THEN d.cost * d.factor ELSE d.cost END) FILTER (WHERE d.decision LIKE 'keep%')
                OVER (ORDER BY d.overall_rank ROWS UNBOUNDED PRECEDING) AS kept_amount
         FROM decided d
     )
     SELECT k.*,
            -- Rounded to the cent: reduced values are exact fractions of the envelope, and numeric
            -- division leaves digits beyond the 20th that must not cut a family.
            CASE WHEN k.decision LIKE 'keep%' AND (k.kept_households > ${decision.overallHouseholds} OR round(k.kept_amount, 2) > ${p.overallAmount})
                 THEN 'cut_overall_cap' ELSE k.decision END AS outcome
       FROM kept k`,
    [...p.values, ...decision.values],
  );
  await insertEntries(raw, job, listId, start, `SELECT * FROM list_decided`, []);
  const { rows } = await raw.query<Cut>(
    `SELECT pcode, outcome AS step, count(*)::int AS households, sum(cost)::float8 AS amount FROM list_decided
      WHERE outcome NOT LIKE 'keep%' GROUP BY pcode, outcome ORDER BY pcode, outcome`,
  );
  const { rows: reduced } = await raw.query<Cut>(
    `SELECT pcode, 'reduce_value_pro_rata' AS step, count(*)::int AS households, sum(cost * (1 - factor))::float8 AS amount FROM list_decided
      WHERE outcome = 'keep_reduced' GROUP BY pcode ORDER BY pcode`,
  );
  // Households cut by the budget are left out too, counted per reason.
  await raw.query(
    `UPDATE list_matched m SET excluded = CASE d.outcome WHEN 'cut_overall_cap' THEN 'beyond the overall cap' ELSE 'over budget' END
       FROM list_decided d WHERE d.household_id = m.household_id AND d.region = m.region AND d.outcome NOT LIKE 'keep%'`,
  );
  await raw.query(`DROP TABLE list_decided`);
  const why: Record<string, string> = {
    cut_spent: "the envelope was used by earlier approved lists, or by this cycle's earlier components of the rule",
    cut_severity: 'the envelope was used by more severe areas first',
    cut_pro_rata: 'caseload reduced pro rata: the lowest-priority households of the area were cut',
    cut_stop: 'the envelope ran out',
    cut_value: 'the envelope ran out',
    cut_overall_cap: 'beyond the overall household or amount cap',
  };
  return [
    ...rows.map((c) => ({ ...c, reason: why[c.step] ?? c.step, step: c.step.replace(/^cut_/, '') })),
    ...reduced.map((c) => ({ ...c, reason: 'value per household reduced pro rata (the rule allows it)' })),
  ];
}

/**
 * The kept households of `decided` (a query with the candidates' columns, `outcome` and `factor`,
 * over the bind parameters `values`) become the list's entries.
 */
async function insertEntries(raw: RawConnection, job: Job, listId: number, start: string | null, decided: string, values: unknown[]): Promise<void> {
  const { rule, component, benefit } = job;
  const p = namedParams({
    listId: [listId, 'bigint'], currency: [benefit.currency, 'text'], start: [start, 'date'],
    programme: [component.programme ?? rule.programme, 'text'], kind: [component.mode === 'vertical' ? 'vertical' : 'horizontal', 'text'],
  }, values.length);
  await raw.query(
    `INSERT INTO payment_list_entries (list_id, household_id, region, registry_id, admin_pcode, pcode, activation_id, tier, rank, size, amount, currency,
                                       payments, first_payment, payment_channel, payment_account, reason)
     SELECT ${p.listId}, d.household_id, d.region, d.registry_id, d.admin_pcode, d.pcode, d.activation_id, d.tier, d.rank, d.size,
            CASE WHEN d.outcome = 'keep_reduced' THEN round(d.amount * d.factor, 2) ELSE d.amount END,
            ${p.currency}, d.payments, ${p.start}, d.payment_channel, d.payment_account,
            CASE WHEN ${p.kind} = 'vertical' THEN 'vertical: active ' || ${p.programme} || ' beneficiary' ELSE 'horizontal: rank ' || d.rank END
              || ' in ' || d.pcode || coalesce(' at tier ' || d.tier, '') || ' (activation ' || d.activation_id || ')'
       FROM (${decided}) d WHERE d.outcome LIKE 'keep%'
      -- In household order, as exports read them: each partition's heap and indexes are written in
      -- ascending order, not at random places of an index larger than memory at national scale.
      ORDER BY d.household_id`,
    [...values, ...p.values],
  );
}

/** The first payment date: the activation date plus the offset, or the next named month. */
function firstPayment(component: ResponseComponent, job: Job, notes: string[]): string | null {
  const start = component.payments?.start;
  if (!start) return null;
  const opened = job.areas.map((a) => a.openedAt).sort()[0] ?? job.now.toISOString().slice(0, 10);
  if (start.days_after_activation !== undefined) {
    return new Date(Date.parse(`${opened}T00:00:00Z`) + start.days_after_activation * 86_400_000).toISOString().slice(0, 10);
  }
  if (start.next_month !== undefined) {
    const base = new Date(`${opened}T00:00:00Z`);
    const year = base.getUTCMonth() + 1 < start.next_month ? base.getUTCFullYear() : base.getUTCFullYear() + 1;
    return `${year}-${String(start.next_month).padStart(2, '0')}-01`;
  }
  notes.push('paid with the next regular payment: no date of its own');
  return null;
}

/**
 * Named bind parameters for one statement: `p.envelope` is the placeholder (`$1::numeric`) and
 * `p.values` the values in order, so the SQL reads with names instead of positions. With `after`,
 * numbered after that many parameters already bound (the caller passes those first).
 */
function namedParams<K extends string>(named: Record<K, [unknown, string]>, after = 0): Record<K, string> & { values: unknown[] } {
  const values: unknown[] = [];
  const placeholders = {} as Record<K, string>;
  for (const [name, [value, type]] of Object.entries(named) as [K, [unknown, string]][]) {
    values.push(value);
    placeholders[name] = `$${after + values.length}::${type}`;
  }
  return Object.assign(placeholders, { values });
}
