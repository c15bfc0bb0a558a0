import { SingleBar, Presets } from 'cli-progress';

/** Prints a command's result: JSON with --json, else the human lines. */
export function report(json: boolean | undefined, value: unknown, human: () => string[]): void {
  if (json) process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  else process.stdout.write(human().join('\n') + '\n');
}

interface Progress {
  update: (done: number, total: number) => void;
  stop: () => void;
}

/**
 * A progress bar on an interactive terminal; nothing otherwise (CI, pipes, --json). `scale` turns
 * counts into what the bar shows; the total grows if more arrives than was announced.
 */
function progressBar(enabled: boolean, format: string, scale: (n: number) => number = (n) => n): Progress {
  if (!enabled || !process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar({ stream: process.stderr, format, hideCursor: true }, Presets.shades_classic);
  let started = false;
  return {
    update(done, total) {
      const shown = scale(Math.max(total, done));
      if (!started) bar.start(shown, 0);
      started = true;
      bar.setTotal(shown);
      bar.update(scale(done));
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** Bytes of a file being imported, in MiB. */
export const byteProgress = (enabled: boolean): Progress =>
  progressBar(enabled, 'importing |{bar}| {percentage}% {value}/{total} MiB', (bytes) => Math.round((bytes / 1048576) * 10) / 10);

/** Households pulled from a registry. */
export const householdProgress = (enabled: boolean): Progress =>
  progressBar(enabled, 'pulling |{bar}| {percentage}% {value}/{total} households');
