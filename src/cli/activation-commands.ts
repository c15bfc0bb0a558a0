import { InvalidArgumentError, type Command } from 'commander';
import { UserError } from '../errors.ts';
import {
  closeActivation, confirmActivation, evaluateActivations, forceActivation, getActivation, listActivations, rejectActivation,
  type ActivationRow, type EvaluationSummary,
} from '../engine/activations.ts';
import { listDeclarations, readDeclarationPolygon, recordDeclaration } from '../engine/declarations.ts';
import { DECLARATION_KINDS } from '../rules/schema.ts';
import type { Evidence } from '../rules/evaluate.ts';
import { globals, withStore } from './context.ts';
import { report } from './output.ts';

const activationId = (value: string) => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('the activation id is a whole number (asp activations list)');
  return Number(value);
};

/** `--at DATE` as an ISO instant; a bare date means the end of that day, when its data was known. */
export function asOfOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const instant = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T23:59:59.999Z`) : new Date(value);
  if (Number.isNaN(instant.getTime())) throw new UserError(`--at ${value}: not a date (use YYYY-MM-DD or an ISO date-time)`);
  return instant.toISOString();
}

export function describeEvaluation(summary: EvaluationSummary): string[] {
  if (summary.rules.length === 0) return [`no approved rule to evaluate (asp rules load, then asp rules approve) as of ${summary.asOf}`];
  return [
    `evaluated ${summary.rules.length} approved rule(s) as of ${summary.asOf}: ${summary.opened} activation(s) opened, ${summary.updated} updated, ${summary.closed} closed, ${summary.unchanged} unchanged`,
    ...summary.rules.flatMap((r) => [
      `  ${r.ruleId} (${r.hash.slice(0, 12)}): ${r.activation} area(s) in activation, ${r.readiness} in readiness, ${r.waiting} waiting for a gate, of ${r.areas}`,
      ...r.notTriggered.map((line) => `    ${line}`),
      ...(r.storedLater ? [`    note: ${r.storedLater}`] : []),
    ]),
    ...summary.coolingDown.map((c) => `  ${c.ruleId} ${c.pcode}: would open again but cools down until ${c.until}`),
  ];
}

function describeActivation(a: ActivationRow): string {
  const state = a.status === 'open' ? `${a.stage}${a.tier ? ` (${a.tier})` : ''}${a.forced ? ' FORCED' : ''}` : `${a.status}: ${a.closedReason ?? ''}`;
  const waiting = a.waitingFor.length ? `  waiting for: ${a.waitingFor.join('; ')}` : '';
  return `#${a.id}  ${a.ruleId}  ${a.pcode}${a.areaName ? ` ${a.areaName}` : ''}  ${a.shockKey}  ${state}${waiting}`;
}

function describeEvidence(e: Evidence): string {
  switch (e.kind) {
    case 'indicator':
      return `${e.indicator} ${e.pcode} ${e.periodStart}…${e.periodEnd} = ${e.value} (${e.status}, ${e.source}, known ${e.knownAt}): ${e.test}`;
    case 'event':
      return `${e.source} ${e.externalId} version ${e.version} (known ${e.knownAt}): ${e.test}`;
    case 'gate':
    case 'declaration':
      return `${e.kind} ${e.name}: ${e.satisfied ? `satisfied ${e.at}` : 'not satisfied'}`;
    default:
      return e.text;
  }
}

export function registerActivationCommands(program: Command): void {
  program
    .command('evaluate')
    .description('evaluate the approved rules (as of now or --at DATE) and open, move or close activations')
    .option('--at <date>', 'evaluate as of this date: data published later is not seen')
    .option('--rule <id>', 'only this rule')
    .action(async (opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const summary = await evaluateActivations(store, { asOf: asOfOption(opts.at), ruleId: opts.rule });
        report(g.json, summary, () => describeEvaluation(summary));
      });
    });

  const activations = program.command('activations').description("what the rules decided per area and shock; coordinators' decisions");
  activations
    .command('list')
    .description('activations, newest rule first (--status open|rejected|closed, --rule ID)')
    .option('--status <status>', 'open, rejected or closed')
    .option('--rule <id>', 'only this rule')
    .action(async (opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const rows = await listActivations(store, { status: opts.status, ruleId: opts.rule });
        report(g.json, rows, () => (rows.length ? rows.map(describeActivation) : ['no activations (asp evaluate)']));
      });
    });
  activations
    .command('show <id>')
    .description('one activation with its evidence and history')
    .action(async (id: string, _opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const a = await getActivation(store, activationId(id));
        report(g.json, a, () => [
          describeActivation(a),
          `  rule version ${a.ruleHash.slice(0, 12)}, opened ${a.openedAt.toISOString()} (as of ${a.openedAsOf.toISOString()}), last evaluated as of ${a.evaluatedAsOf.toISOString()}`,
          '  evidence:',
          ...a.evidence.map((e) => `    ${describeEvidence(e)}`),
          '  history:',
          ...a.changes.map((c) => `    ${c.at.toISOString()} ${c.actor}: ${c.change}${c.fromValue || c.toValue ? ` ${c.fromValue ?? '–'} → ${c.toValue ?? '–'}` : ''}${c.reason ? ` (${c.reason})` : ''}`),
        ]);
      });
    });
  const decide = (name: string, description: string, act: typeof rejectActivation) =>
    activations
      .command(`${name} <id>`)
      .description(description)
      .requiredOption('--by <name>', 'who decides (recorded)')
      .requiredOption('--reason <text>', 'why (recorded)')
      .action(async (id: string, opts, cmd: Command) => {
        const g = globals(cmd);
        await withStore(g, async (store) => {
          const a = await act(store, activationId(id), opts.by, opts.reason);
          report(g.json, a, () => [describeActivation(a)]);
        });
      });
  activations
    .command('confirm <id>')
    .description('confirm the manual gates an activation waits for (or --gate KIND) and evaluate its rule again')
    .requiredOption('--by <name>', 'who confirms (recorded)')
    .requiredOption('--reason <text>', 'why, e.g. the assessment report (recorded)')
    .option('--gate <kinds...>', 'only these gate kinds')
    .action(async (id: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const a = await confirmActivation(store, activationId(id), opts.by, opts.reason, { gates: opts.gate });
        report(g.json, a, () => [describeActivation(a)]);
      });
    });
  decide('reject', 'reject an open activation: later evaluations leave it rejected', rejectActivation);
  decide('force', 'force an open activation to the activation stage, overriding its gates', forceActivation);
  decide('close', 'end an open activation', closeActivation);

  program
    .command('declare')
    .description('record an official declaration (state of calamity, notified calamity, official alert…) as a trigger and gate')
    .requiredOption('--id <reference>', 'unique reference of the declaration, e.g. NDRRMC-2026-014')
    .requiredOption('--kind <kind>', `one of ${DECLARATION_KINDS.join(', ')}`)
    .requiredOption('--hazard <hazard>', 'flood, drought, tropical_cyclone, earthquake…')
    .requiredOption('--issuer <name>', 'who declared it')
    .requiredOption('--date <date>', 'date of the declaration (YYYY-MM-DD)')
    .requiredOption('--document <reference>', 'reference of the notifying document (gazette, letter)')
    .option('--title <title>', 'title of the document')
    .option('--url <url>', 'where the document is published')
    .option('--areas <pcodes>', 'comma-separated P-codes of the areas declared')
    .option('--polygon <file>', 'GeoJSON file with the drawn area instead of P-codes')
    .option('--valid-until <date>', 'last day the declaration counts (YYYY-MM-DD)')
    .requiredOption('--by <name>', 'who records it (recorded)')
    .action(async (opts, cmd: Command) => {
      const g = globals(cmd);
      if (Boolean(opts.areas) === Boolean(opts.polygon)) throw new UserError('give the declared areas: either --areas P1,P2 or --polygon FILE');
      const areas = opts.areas
        ? { pcodes: String(opts.areas).split(',').map((p) => p.trim()).filter(Boolean) }
        : { polygon: await readDeclarationPolygon(opts.polygon) };
      const record = {
        id: opts.id, kind: opts.kind, hazard: opts.hazard, issuer: opts.issuer, date: opts.date,
        ...(opts.validUntil ? { valid_until: opts.validUntil } : {}),
        document: { reference: opts.document, ...(opts.title ? { title: opts.title } : {}), ...(opts.url ? { url: opts.url } : {}) },
        areas,
      };
      await withStore(g, async (store) => {
        const declaration = await recordDeclaration(store, record, opts.by);
        const summary = await evaluateActivations(store);
        report(g.json, { declaration, evaluation: summary }, () => [
          `declaration ${declaration.reference} recorded: ${declaration.kind} (${declaration.hazard}) by ${declaration.issuer} on ${declaration.declaredOn}${declaration.pcodes.length ? ` for ${declaration.pcodes.join(', ')}` : ' for a drawn area'}`,
          ...describeEvaluation(summary),
        ]);
      });
    });
  program
    .command('declarations')
    .description('the declarations recorded, newest first')
    .action(async (_opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const rows = await listDeclarations(store);
        report(g.json, rows, () =>
          rows.length ? rows.map((d) => `${d.reference}  ${d.kind} ${d.hazard}  ${d.issuer}  ${d.declaredOn}${d.validUntil ? `…${d.validUntil}` : ''}  ${d.drawn ? 'drawn area' : d.pcodes.join(',')}  (${d.document.reference})`) : ['no declarations recorded (asp declare)'],
        );
      });
    });
}
