import cron, { type ScheduledTask } from 'node-cron';
import type { Store } from '../db/store.ts';
import { log } from '../log.ts';
import type { ConfiguredRegistry } from '../registry/registries-config.ts';
import { markInterruptedPulls, pullConfiguredRegistry, type ScheduledPullOptions, type ScheduledPullOutcome } from '../registry/scheduled-pull.ts';
import type { Leadership } from './leadership.ts';

export interface RegistryJobs {
  /** Pulls every scheduled registry now, as the leader would on its tick; returns the pulls it made. */
  tick(): Promise<ScheduledPullOutcome[]>;
  stop(): Promise<void>;
}

/**
 * A cron job per enabled registry with a schedule. Like the feeds: only the leading scheduler
 * pulls (one process at a time on a database), and a registry's pull never overlaps itself (a
 * tick while one is under way waits for it instead of starting another). A failed pull is recorded
 * and does not stop the others.
 */
export function registryJobs(store: Store, registries: ConfiguredRegistry[], leadership: Leadership, options: ScheduledPullOptions = {}): RegistryJobs {
  const running = new Map<string, Promise<ScheduledPullOutcome | null>>();
  // As for feeds: before this process's first pull as leader, the pulls a dead leader left are closed.
  let recovery: Promise<unknown> | null = null;
  const leading = async () => {
    if (!(await leadership.isLeader())) {
      recovery = null; // a leader again later recovers again
      return false;
    }
    await (recovery ??= markInterruptedPulls(store));
    return true;
  };
  const pullIfLeader = (registry: ConfiguredRegistry): Promise<ScheduledPullOutcome | null> => {
    const inFlight = running.get(registry.name);
    if (inFlight) return inFlight;
    const pull = (async () => ((await leading()) ? pullConfiguredRegistry(store, registry, options) : null))()
      .catch((error: Error) => {
        // The database itself failed (the pull records its own failures): the next tick tries again.
        log.error({ registry: registry.name, err: { message: error.message } }, 'scheduled registry pull crashed');
        return null;
      })
      .finally(() => running.delete(registry.name));
    running.set(registry.name, pull);
    return pull;
  };
  const scheduled = registries.filter((r) => r.enabled && r.schedule);
  const tasks: ScheduledTask[] = scheduled.map((registry) =>
    cron.schedule(registry.schedule!, () => pullIfLeader(registry), { name: `registry:${registry.name}`, noOverlap: true }),
  );
  if (scheduled.length > 0) log.info({ registries: scheduled.map((r) => ({ name: r.name, schedule: r.schedule })) }, 'registry pulls scheduled');
  return {
    tick: async () => (await Promise.all(scheduled.map(pullIfLeader))).filter((p): p is ScheduledPullOutcome => p !== null),
    async stop() {
      for (const task of tasks) await task.destroy();
      await Promise.allSettled([...running.values()]);
    },
  };
}
