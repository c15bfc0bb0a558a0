import os from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { disburseList, type DisburseReport } from '../payments/disburse.ts';
import { disbursementStatus, type DisbursementStatus } from '../payments/status-report.ts';
import { globals, withStore } from './context.ts';
import { report } from './output.ts';

const listId = (value: string) => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('the list id is a whole number (asp lists list)');
  return Number(value);
};

const seconds = (value: string) => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('--wait takes whole seconds');
  return Number(value);
};

const describe = (s: DisbursementStatus): string[] => [
  `list ${s.listId} → hub ${s.hub}: ${s.entries} entries in ${s.chunks} message(s)${s.totalAmount ? `, total ${s.totalAmount}` : ''}${s.filled ? '' : ' (outbox not complete yet)'}`,
  `  messages: ${Object.entries(s.messages).map(([k, n]) => `${k} ${n}`).join(', ')}`,
  `  items: ${Object.entries(s.items).map(([k, n]) => `${k} ${n}`).join(', ')}`,
  `  reconciled: ${s.reconciled} of ${s.entries}${s.reconciledAt ? ` (complete ${s.reconciledAt.toISOString()})` : ''}; callbacks ${s.callbacks} (duplicates ${s.duplicates}), by txn/status ${s.polled}`,
  ...s.errors.map((e) => `  message ${e.chunk + 1}: ${e.error}`),
];

/** `asp lists disburse` and `asp lists disburse-status`: the push of a released list to a payment hub. */
export function registerDisburseCommands(lists: Command): void {
  lists
    .command('disburse <listId>')
    .description('push a released list to a payment hub (ASP_HUBS); run again to send what was not delivered, never twice')
    .requiredOption('--hub <name>', 'the hub (its partner must have the list released)')
    .option('--by <name>', 'who pushes it (recorded; default the system user)')
    .option('--wait [seconds]', 'wait for every status, asking the hub about late ones (default 600 s)', seconds)
    .action(async (id: string, opts, cmd: Command) => {
      const g = globals(cmd);
      const waitSeconds = opts.wait === undefined ? 0 : opts.wait === true ? 600 : Number(opts.wait);
      await withStore(g, async (store) => {
        const result: DisburseReport = await disburseList(store, listId(id), opts.hub, opts.by ?? `cli:${os.userInfo().username}`, { waitMs: waitSeconds * 1000, dataDir: g.dataDir });
        report(g.json, result, () => [
          `sent: ${result.sent.acked} acked, ${result.sent.nacked} nacked, ${result.sent.errors.length} refused, ${result.sent.waiting} to retry`,
          ...describe(result),
          ...(waitSeconds > 0 && !result.complete ? [`  ${result.open} item(s) without a final status after ${waitSeconds} s: run again or look later (asp lists disburse-status)`] : []),
        ]);
        if (result.sent.errors.length > 0 || result.sent.waiting > 0 || (waitSeconds > 0 && !result.complete)) process.exitCode = 1;
      });
    });

  lists
    .command('disburse-status <listId>')
    .description('where the push of a list to a hub stands: messages, item statuses, reconciliation')
    .requiredOption('--hub <name>', 'the hub')
    .action(async (id: string, opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const status = await disbursementStatus(store, listId(id), opts.hub);
        report(g.json, status, () => describe(status));
      });
    });
}
