import type { Command } from 'commander';
import { generateLists, type GeneratedList } from '../engine/targeting/generate-lists.ts';
import { approveList, cancelList, closeList, getList, listLists, type ListRow } from '../lists/lifecycle.ts';
import { paymentTotals } from '../lists/reconcile.ts';
import { globals, wholeNumber, withStore } from './context.ts';
import { describePaymentTotals } from './reconcile-commands.ts';
import { report } from './output.ts';
import { progress } from './progress.ts';

const money = (amount: number, currency: string | null) => `${currency ?? ''} ${amount.toLocaleString('en-US', { maximumFractionDigits: 2 })}`.trim();

export function describeList(list: ListRow): string {
  const approvals = [list.approvedBy, list.secondApprovedBy].filter(Boolean).join(' and ');
  return `#${list.id}  ${list.ruleId} component ${list.component} (${list.kind}, ${list.programme})  cycle ${list.cycle}  version ${list.version}  ${list.status}` +
    `  ${list.households.toLocaleString('en-US')} households, ${money(list.totalAmount, list.currency)}` +
    `${approvals ? `  approved by ${approvals}` : ''}${list.contentSha256 ? `  sha256 ${list.contentSha256.slice(0, 16)}…` : ''}` +
    `${list.cancelledReason ? `  cancelled: ${list.cancelledReason}` : ''}`;
}

function describeGenerated(list: GeneratedList): string[] {
  return [
    `list #${list.id}${list.replaced ? ' (draft replaced)' : ''}: ${list.ruleId} component ${list.component}, ${list.kind} ${list.programme}, cycle ${list.cycle}: ` +
      `${list.households.toLocaleString('en-US')} households, ${money(list.totalAmount, list.currency)}`,
    ...list.areas.map((a) => `  ${a.pcode}${a.tier ? ` (${a.tier})` : ''}: ${a.listed} of ${a.registered} registered${a.target !== null ? `, target ${a.target}` : ''}, ${money(a.amount, list.currency)}`),
    ...Object.entries(list.excluded).map(([reason, n]) => `  left out: ${n} ${reason}`),
    ...list.cuts.map((c) => `  cut in ${c.pcode}: ${c.households} households, ${money(c.amount, list.currency)} (${c.reason})`),
    ...list.notes.map((n) => `  note: ${n}`),
  ];
}

/** `asp lists …`: generate, approve, cancel, close, list, show. Returns the group so that release, export and reconcile can join it. */
export function registerListCommands(program: Command): Command {
  const lists = program.command('lists').description('payment lists: generated for an activation, approved by four eyes, released to partners');
  lists
    .command('generate <activationId>')
    .description("generate (or regenerate a draft of) the lists of the activation's rule for this payment cycle, covering every area in activation")
    .requiredOption('--by <name>', 'who generates (recorded; cannot approve)')
    .option('--cycle <yyyy-mm>', 'payment cycle (default: this month)')
    .action(async (activationId: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const activation = wholeNumber('the activation id')(activationId);
        // One INSERT … SELECT per list inside PostGIS: no count to show, only that it runs and for how long.
        const generated = await progress(g).task('generating lists', () => generateLists(store, activation, opts.by, { cycle: opts.cycle }));
        report(g.json, generated, () => generated.flatMap(describeGenerated));
      });
    });
  lists
    .command('approve <listId>')
    .description('approve a draft list (not by the one who generated it; a second approver above the threshold)')
    .requiredOption('--sha256 <hash>', 'the content hash of the list you reviewed (asp lists show prints it); refused if the list changed since')
    .option('--list-version <n>', 'the list version you reviewed (refused if it was regenerated since)', wholeNumber('--list-version'))
    .requiredOption('--by <name>', 'who approves (recorded)')
    .action(async (listId: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const list = await approveList(store, wholeNumber('the list id')(listId), opts.by, { sha256: opts.sha256, version: opts.listVersion });
        report(g.json, list, () => [describeList(list), ...(list.needsSecondApproval ? ['  first approval recorded: the total is above the threshold, a second approver is needed'] : [])]);
      });
    });
  lists
    .command('cancel <listId>')
    .description('cancel a list with the reason')
    .requiredOption('--by <name>', 'who cancels (recorded)')
    .requiredOption('--reason <text>', 'why (recorded)')
    .action(async (listId: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const list = await cancelList(store, wholeNumber('the list id')(listId), opts.by, opts.reason);
        report(g.json, list, () => [describeList(list)]);
      });
    });
  lists
    .command('close <listId>')
    .description('close a released list once it is paid and reconciled')
    .requiredOption('--by <name>', 'who closes (recorded)')
    .action(async (listId: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const list = await closeList(store, wholeNumber('the list id')(listId), opts.by);
        report(g.json, list, () => [describeList(list)]);
      });
    });
  lists
    .command('list')
    .description('payment lists (--status, --rule)')
    .option('--status <status>', 'draft, approved, released, closed or cancelled')
    .option('--rule <id>', 'only this rule')
    .action(async (opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const rows = await listLists(store, { status: opts.status, ruleId: opts.rule });
        report(g.json, rows, () => (rows.length ? rows.map(describeList) : ['no payment lists (asp lists generate ACTIVATION_ID)']));
      });
    });
  lists
    .command('show <listId>')
    .description('one list: totals, what was left out and cut, approvals')
    .action(async (listId: string, _opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const list = await getList(store, wholeNumber('the list id')(listId));
        const totals = await paymentTotals(store, list.id);
        report(g.json, { ...list, payments: totals }, () => [
          describeList(list),
          ...(list.status === 'draft' && list.entriesSha256
            ? [`  version ${list.version}, content sha256 ${list.entriesSha256}: once reviewed, asp lists approve ${list.id} --sha256 ${list.entriesSha256} --list-version ${list.version} --by NAME`]
            : []),
          ...Object.entries(list.excluded).map(([reason, n]) => `  left out: ${n} ${reason}`),
          ...list.cuts.map((c) => `  cut in ${c.pcode}: ${c.households} households, ${money(c.amount, list.currency)} (${c.reason})`),
          ...describePaymentTotals(totals),
        ]);
      });
    });
  return lists;
}
