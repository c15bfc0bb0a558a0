import type { Store } from '../db/store.ts';
import type { RawConnection } from '../db/raw.ts';

/** Arbitrary but fixed: the advisory lock key all asp-engine schedulers compete for. */
const SCHEDULER_LOCK_KEY = 7_240_511_001;

export interface Leadership {
  /** True while this process holds the scheduler lock; tries to take it when free. */
  isLeader(): Promise<boolean>;
  release(): Promise<void>;
}

/**
 * One leader among several processes on one database: a session-level Postgres advisory lock
 * held on a connection of its own. If the leader dies, its session ends, the lock frees, and the
 * next process to ask takes over. The embedded database is single-process (its folder is locked),
 * so there the one process always leads.
 */
export function schedulerLeadership(store: Store): Leadership {
  if (store.backend === 'embedded') return { isLeader: async () => true, release: async () => {} };
  let connection: RawConnection | null = null;
  let leader = false;
  // Feeds ask at the same moment; one question at a time, on one connection.
  let asking: Promise<boolean> | null = null;
  const ask = async () => {
    try {
      connection ??= await store.connect();
      const { rows } = await connection.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [SCHEDULER_LOCK_KEY]);
      leader = rows[0].locked;
    } catch {
      // The connection broke (server restart): its session and lock are gone; ask afresh next time.
      connection?.release();
      connection = null;
      leader = false;
    }
    return leader;
  };
  // A leader re-checks that its session (and so its lock) is still alive before each run.
  const stillHeld = async () => {
    try {
      await connection!.query('SELECT 1');
      return true;
    } catch {
      connection?.release();
      connection = null;
      leader = false;
      return false;
    }
  };
  return {
    async isLeader() {
      if (leader && (await stillHeld())) return true;
      asking ??= ask().finally(() => (asking = null));
      return asking;
    },
    async release() {
      await asking?.catch(() => {});
      if (!connection) return;
      if (leader) await connection.query('SELECT pg_advisory_unlock($1)', [SCHEDULER_LOCK_KEY]).catch(() => {});
      connection.release();
      connection = null;
      leader = false;
    },
  };
}
