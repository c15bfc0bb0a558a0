import { sql, type Kysely } from 'kysely';

/**
 * Who started a feed run: the scheduler's leader or a command (asp ingest, asp feeds run). A run
 * left `running` by a process that died is marked failed ("interrupted"): the scheduler's runs as
 * soon as a new leader takes over (only the leader runs them), a command's once it is older than any
 * run can take.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE feed_runs ADD COLUMN runner text NOT NULL DEFAULT 'command' CHECK (runner IN ('scheduler', 'command'))`.execute(db);
  await sql`CREATE INDEX feed_runs_running_idx ON feed_runs (runner, started_at) WHERE status = 'running'`.execute(db);
}
