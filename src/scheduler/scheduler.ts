import cron, { type ScheduledTask } from 'node-cron';
import type { Store } from '../db/store.ts';
import type { FeedConfig } from '../feeds/config.ts';
import { markInterruptedRuns, runFeed, syncFeeds, type RunSummary } from '../feeds/run-feed.ts';
import { log } from '../log.ts';
import type { ConfiguredRegistry } from '../registry/registries-config.ts';
import type { ScheduledPullOptions, ScheduledPullOutcome } from '../registry/scheduled-pull.ts';
import { schedulerLeadership } from './leadership.ts';
import { registryJobs } from './registry-jobs.ts';

/** A command's feed run (asp ingest, asp feeds run) older than this is dead: fetches time out in minutes. */
const STALE_COMMAND_RUN_SECONDS = 3600;

/** Called after a run that added data; rule evaluation hooks in here. */
export type NewDataHook = (run: RunSummary) => Promise<void> | void;

export interface SchedulerOptions {
  /** Run every enabled feed once right away (npm start), besides the schedule. */
  runAtStart?: boolean;
  onNewData?: NewDataHook[];
  /** Configured registries: each enabled one with a schedule is pulled on it (a delta from its cursor). */
  registries?: ConfiguredRegistry[];
  registryPulls?: ScheduledPullOptions;
}

export interface Scheduler {
  /** Runs the enabled feeds now, as the leader would on a tick; returns the runs it made. */
  tick(): Promise<RunSummary[]>;
  /** Pulls the scheduled registries now, as the leader would on their ticks; returns the pulls it made. */
  pullRegistries(): Promise<ScheduledPullOutcome[]>;
  stop(): Promise<void>;
}

/**
 * node-cron jobs from the feed configuration. A feed's run never overlaps itself; with several
 * processes on one database only the leader (advisory lock) runs jobs; a failing feed is recorded
 * in its health and never stops the others.
 */
export async function startScheduler(store: Store, feeds: FeedConfig[], options: SchedulerOptions = {}): Promise<Scheduler> {
  await syncFeeds(store, feeds);
  const leadership = schedulerLeadership(store);
  const running = new Map<string, Promise<RunSummary | null>>();
  // Before this process's first run as leader, the runs a dead leader left are closed. The
  // embedded database admits one process, so there every leftover run is a dead one.
  // Every feed's first run waits for the same recovery, so none starts before it is done.
  let recovery: Promise<unknown> | null = null;
  const recover = () => (recovery ??= markInterruptedRuns(store, {
    scheduler: true, commandAfterSeconds: store.backend === 'embedded' ? 0 : STALE_COMMAND_RUN_SECONDS,
  }));
  const hooks = options.onNewData ?? [];

  const runIfLeader = (feed: FeedConfig): Promise<RunSummary | null> => {
    const inFlight = running.get(feed.name);
    if (inFlight) return inFlight; // never overlap a feed with itself
    const run = (async () => {
      try {
        if (!(await leadership.isLeader())) {
          recovery = null; // a leader again later recovers again
          return null;
        }
        await recover();
        const summary = await runFeed(store, feed, 'scheduler');
        if (summary.versionsAdded + summary.versionsUpdated + summary.indicatorsAdded > 0) {
          for (const hook of hooks) await hook(summary);
        }
        return summary;
      } catch (error) {
        log.error({ feed: feed.name, err: { message: (error as Error).message } }, 'feed run crashed');
        return null;
      }
    })().finally(() => running.delete(feed.name));
    running.set(feed.name, run);
    return run;
  };

  const enabled = feeds.filter((f) => f.enabled);
  const tasks: ScheduledTask[] = enabled.map((feed) =>
    cron.schedule(feed.schedule, () => runIfLeader(feed), { name: `feed:${feed.name}`, noOverlap: true }),
  );
  const tick = async () => (await Promise.all(enabled.map(runIfLeader))).filter((r): r is RunSummary => r !== null);
  if (options.runAtStart) void tick();
  const registries = registryJobs(store, options.registries ?? [], leadership, options.registryPulls);
  log.info({ feeds: enabled.map((f) => f.name) }, 'scheduler started');

  return {
    tick,
    pullRegistries: registries.tick,
    async stop() {
      for (const task of tasks) await task.destroy();
      await Promise.allSettled([...running.values()]);
      await registries.stop();
      await leadership.release();
    },
  };
}
