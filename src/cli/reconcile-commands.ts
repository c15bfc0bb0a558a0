import type { Command } from 'commander';
import { reconcileList, type PaymentTotals } from '../lists/reconcile.ts';
import { globals, wholeNumber, withStore } from './context.ts';
import { report } from './output.ts';

/** Paid, failed (per reason) and pending households and amounts of a list, one line each. */
export function describePaymentTotals(t: PaymentTotals): string[] {
  const money = (amount: number) => `${amount.toFixed(2)}${t.currency ? ` ${t.currency}` : ''}`;
  return [
    `  on the list: ${t.households} household(s), ${money(t.amount)}`,
    `  paid:    ${t.paid.households} household(s), ${money(t.paid.amount)}`,
    `  failed:  ${t.failed.households} household(s), ${money(t.failed.amount)}`,
    ...Object.entries(t.failed.byReason).map(([reason, r]) => `    ${reason}: ${r.households} household(s), ${money(r.amount)}`),
    `  pending: ${t.pending.households} household(s), ${money(t.pending.amount)}`,
  ];
}

/** `asp lists reconcile`, added to the `asp lists` group. */
export function registerReconcileCommands(lists: Command): void {
  lists
    .command('reconcile')
    .argument('<listId>', 'the released list', wholeNumber('the list id'))
    .argument('<file>', "the partner's CSV")
    .description("record a partner's payment report (CSV: id, status paid|failed, amount, reason when failed; optional paid_at, reference); all rows or none")
    .requiredOption('--by <name>', 'who records it (audited)')
    .option('--partner <id>', 'the partner whose file this is (needed when the list was released to more than one)')
    .action(async (listId: number, file: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const result = await reconcileList(store, listId, file, opts.by, { partnerId: opts.partner });
        report(g.json, result, () => [
          `list ${result.listId}: ${result.rows} row(s) from ${result.partnerId} recorded: ${result.paid} paid, ${result.failed} failed` +
            (result.replaced ? ` (${result.replaced} replaced an earlier report)` : ''),
          ...(result.ignoredColumns.length ? [`  columns ignored: ${result.ignoredColumns.join(', ')}`] : []),
          ...describePaymentTotals(result.totals),
        ]);
      });
    });
}
