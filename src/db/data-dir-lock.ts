import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';

/**
 * The embedded database may be opened by one process at a time: a second PGlite on the same
 * folder would corrupt it. A lock file holds the owner's pid; a lock whose process is gone is
 * stale and taken over. Returns the function that releases the lock.
 */
const openHere = new Set<string>();

export function lockDataDir(dataDir: string): () => void {
  const lockFile = path.join(dataDir, 'asp-engine.lock');
  const key = path.resolve(dataDir);
  if (openHere.has(key)) {
    throw new UserError(`the embedded database in ${dataDir} is in use by process ${process.pid} (this one); close it first`);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      openHere.add(key);
      return () => {
        openHere.delete(key);
        rmSync(lockFile, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(lockFile, 'utf8'));
      // Our own pid in a lock we do not hold is a previous life's (e.g. pid 1 in a restarted container).
      if (owner && owner !== process.pid && isAlive(owner)) {
        throw new UserError(
          `the embedded database in ${dataDir} is in use by process ${owner}; stop it first, or use a PostgreSQL server (DATABASE_URL) for several processes`,
        );
      }
      rmSync(lockFile, { force: true });
    }
  }
  throw new UserError(`cannot lock the embedded database in ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
