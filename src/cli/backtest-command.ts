import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { backtestLines, backtestRule, BACKTEST_STEPS, type BacktestStep } from '../engine/backtest.ts';
import { globals, withStore } from './context.ts';
import { report } from './output.ts';
import { progress } from './progress.ts';

/** `asp backtest RULE --from DATE --to DATE [--step S] [--json]`. */
export function registerBacktestCommand(program: Command): void {
  program
    .command('backtest <rule>')
    .description('replay a rule (a file, or a stored rule id) over the stored indicator and event history: activations, shocks, return period, cost')
    .requiredOption('--from <date>', 'first day (YYYY-MM-DD)')
    .requiredOption('--to <date>', 'last day (YYYY-MM-DD)')
    .option('--step <step>', `${BACKTEST_STEPS.join(' | ')} (default the rule's monitoring cadence, else monthly)`)
    .action(async (rule: string, opts: { from: string; to: string; step?: string }, cmd: Command) => {
      const g = globals(cmd);
      if (opts.step !== undefined && !BACKTEST_STEPS.includes(opts.step as BacktestStep)) {
        throw new UserError(`--step ${opts.step}: use one of ${BACKTEST_STEPS.join(', ')}`);
      }
      await withStore(g, async (store) => {
        const replayed = progress(g).meter('backtest', 'periods');
        const result = await backtestRule(store, rule, { from: opts.from, to: opts.to, step: opts.step as BacktestStep | undefined, onProgress: replayed.update })
          .finally(replayed.stop);
        report(g.json, result, () => backtestLines(result));
      });
    });
}
