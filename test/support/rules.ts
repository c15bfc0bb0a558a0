import type { Store } from '../../src/db/store.ts';
import { indicatorsAdapter } from '../../src/feeds/adapters/indicators.ts';
import { ingestPayload } from '../../src/feeds/ingest.ts';
import { approveRuleVersion, storeRuleVersions } from '../../src/rules/versions.ts';
import { tempFile } from './files.ts';

/** Stores a rule written in the test (YAML text) and approves it with a second person, as a ministry would. */
export async function approveRuleText(store: Store, yaml: string): Promise<string> {
  const id = /^id: (\S+)/m.exec(yaml)?.[1];
  if (!id) throw new Error('the rule text has no id');
  try {
    await storeRuleVersions(store, await tempFile(`${id}.yaml`, yaml), 'rule.author@test');
  } catch (error) {
    // Show the loader's problems: a rule written in a test must be valid.
    throw new Error(`${(error as Error).message}: ${((error as { details?: string[] }).details ?? []).join('; ')}`);
  }
  await approveRuleVersion(store, id, 'rule.approver@test');
  return id;
}

/**
 * The identity lines every rule written in a test starts with (id, title, country, programme,
 * owner, in force since 2020, agreed text), as YAML.
 */
export function ruleHeader(id: string, options: { title?: string; country?: string; programme?: string } = {}): string {
  return `id: ${id}
title: ${options.title ?? `Test rule ${id}`}
country: ${options.country ?? 'XDL'}
programme: ${options.programme ?? 'CT'}
owner: Test ministry
effective: { from: 2020-01-01 }
agreed_text: A rule written for this test.`;
}

/** Monthly indicator values for `month` (YYYY-MM), published on the 5th of the next month. */
export async function publishMonth(
  store: Store, month: string, values: Record<string, number>, indicator = 'vci3m', source = 'NDMA (test)',
): Promise<void> {
  const [y, m] = month.split('-').map(Number);
  const end = new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
  const rows = Object.entries(values).map(([pcode, value]) => `${pcode},${indicator},${month}-01,${end},${value},final,${source}`);
  const bytes = Buffer.from(['pcode,indicator,period_start,period_end,value,status,source', ...rows].join('\n') + '\n');
  await ingestPayload(store, indicatorsAdapter, { source: 'indicators', bytes, url: `test://${indicator}-${month}-${rows.length}.csv`, fetchedAt: new Date(Date.UTC(y, m, 5, 6)) });
}

/**
 * HSNP's two VCI-3M tiers per sub-county (extreme < 10 ≤ severe < 20), over values published by
 * `publishMonth`, as rule YAML: the `stages` and `tiers` blocks.
 */
export const VCI_STAGES_AND_TIERS = `stages:
  activation:
    when:
      indicator: { id: vci, name: vci3m, source: NDMA (test), version: any, unit: VCI, spatial_unit: { admin_level: 2 }, period: monthly,
                   bands: [{ name: extreme, max: 10 }, { name: severe, min: 10, max: 20 }, { name: normal, min: 20 }], triggering_bands: [extreme, severe] }
tiers:
  - { id: severe, severity: 1, when: { in_band: { trigger: vci, bands: [severe] } } }
  - { id: extreme, severity: 2, when: { in_band: { trigger: vci, bands: [extreme] } } }
`;

/** A flat monthly top-up for the enrolled households of CT, once, within a large envelope: the `response` and `budget` blocks. */
export const CT_TOP_UP = `response:
  - mode: vertical
    households: { eligibility: { enrolled_in: [CT] } }
    benefit: { kind: flat, amount: 1000, currency: KES }
    payments: { frequency: monthly, count: 1, start: { days_after_activation: 7 } }
budget:
  envelope: { amount: 100000000, currency: KES, per: activation }
  over_budget: [stop_when_exhausted]
`;

/** A horizontal top-up of 100 KES once for every registered household of the areas, as rule YAML: the `response` and `budget` blocks. */
export function flatTopUp(envelope = 100_000_000): string {
  return `response:
  - mode: horizontal
    households: {}
    coverage: { kind: all_eligible }
    benefit: { kind: flat, amount: 100, currency: KES }
    payments: { frequency: once, count: 1, start: { days_after_activation: 3 } }
budget:
  envelope: { amount: ${envelope}, currency: KES, per: activation }
  over_budget: [stop_when_exhausted]
`;
}

/** A rule paying `flatTopUp` in the sub-county XD01001 while its VCI-3M (published by `publishMonth`) is below 20. */
export function vciTopUpRule(id: string, options: { title?: string; programme?: string; envelope?: number } = {}): string {
  return `${ruleHeader(id, options)}
areas: { admin_level: 2, within: [XD01001] }
stages:
  activation:
    when:
      indicator: { name: vci3m, source: NDMA (test), version: any, unit: VCI, spatial_unit: { admin_level: 2 }, period: monthly, threshold: { op: lt, value: 20 } }
${flatTopUp(options.envelope)}`;
}
