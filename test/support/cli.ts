import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from './paths.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const asp = path.join(projectRoot, 'bin/asp.js');

/** Runs `asp ARGS` as a user would, in a child process. */
export function runAsp(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [asp, ...args],
      { cwd: projectRoot, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Starts `asp ARGS` (a long-running server) and resolves once a line matches `ready`. */
export function startAsp(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  const child = spawn(process.execPath, [asp, ...args], { cwd: projectRoot, env: { ...process.env, ...env } });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(ready);
      if (match) resolve({ child, match, output: () => output });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`asp exited with ${code} before it was ready:\n${output}`)));
  });
}

/** Sends SIGTERM and waits for the process to end (it closes its database first). */
export function stopAsp(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.removeAllListeners('exit');
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

/**
 * Runs `asp ARGS` on a test database as a user would. The embedded database admits one process at
 * a time, so the test's store is closed meanwhile and reopened after.
 */
export async function runAspOn(
  database: { store: { close(): Promise<void> }; cliArgs: string[]; reopen(): Promise<unknown> },
  args: string[],
): Promise<CliResult> {
  await database.store.close();
  try {
    return await runAsp([...database.cliArgs, ...args]);
  } finally {
    await database.reopen();
  }
}
