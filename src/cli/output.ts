import { SingleBar, Presets } from 'cli-progress';

/** Prints a command's result: JSON with --json, else the human lines. */
export function report(json: boolean | undefined, value: unknown, human: () => string[]): void {
  if (json) process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  else process.stdout.write(human().join('\n') + '\n');
}

/** A byte progress bar on an interactive terminal; nothing otherwise (CI, pipes, --json). */
export function byteProgress(enabled: boolean): { update: (done: number, total: number) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar(
    { stream: process.stderr, format: 'importing |{bar}| {percentage}% {value}/{total} MiB', hideCursor: true },
    Presets.shades_classic,
  );
  let started = false;
  const mib = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
  return {
    update(done, total) {
      if (!started) {
        bar.start(mib(total), 0);
        started = true;
      }
      bar.update(mib(done));
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
