import { SingleBar, Presets } from 'cli-progress';

/**
 * How long commands show that they are working, always on stderr (stdout is the command's result):
 * `bar` redraws a bar in place, `plain` writes whole lines (for CI logs), `off` writes nothing.
 */
export type ProgressMode = 'bar' | 'plain' | 'off';

const MODES: ProgressMode[] = ['bar', 'plain', 'off'];

/** Where progress goes: process.stderr, or in tests a stream that says whether it is a terminal. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * `ASP_PROGRESS=bar|plain|off` decides when set; otherwise a bar on a terminal and nothing when
 * stderr is piped or redirected (CI, scripts) or the result is asked for as --json.
 */
export function progressMode(stream: ProgressStream, json: boolean | undefined, setting = process.env.ASP_PROGRESS): ProgressMode {
  if (setting && MODES.includes(setting as ProgressMode)) return setting as ProgressMode;
  return stream.isTTY === true && !json ? 'bar' : 'off';
}

/** A counted task: `done` of `total` (a total may grow when more arrives than was announced). */
export interface Meter {
  update: (done: number, total: number) => void;
  stop: () => void;
}

export interface Progress {
  /** A bar of counted work; `scale` turns counts into what is shown (e.g. bytes into MiB). */
  meter(label: string, unit: string, scale?: (n: number) => number): Meter;
  /** Work of unknown length (one SQL statement, a set-up step): its name and the time it takes. */
  task<T>(label: string, work: () => Promise<T>): Promise<T>;
}

export interface ProgressOptions {
  json?: boolean;
  stream?: ProgressStream;
  /** Instead of ASP_PROGRESS and the terminal test. */
  mode?: ProgressMode;
}

/** The progress a command shows (see progressMode). */
export function progress(options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const mode = options.mode ?? progressMode(stream, options.json);
  if (mode === 'bar') return barProgress(stream);
  if (mode === 'plain') return plainProgress(stream);
  return { meter: () => ({ update: () => {}, stop: () => {} }), task: (_label, work) => work() };
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

function barProgress(stream: ProgressStream): Progress {
  // A stream that is not a terminal gets the bar only when asked for (ASP_PROGRESS=bar).
  const newBar = (format: string) =>
    new SingleBar({ stream: stream as NodeJS.WritableStream, format, hideCursor: true, noTTYOutput: stream.isTTY !== true }, Presets.shades_classic);
  return {
    meter(label, unit, scale = (n) => n) {
      const bar = newBar(`${label} |{bar}| {percentage}% {value}/{total} ${unit}`);
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
          started = false;
        },
      };
    },
    async task(label, work) {
      const bar = newBar(`${label} … {duration_formatted}`);
      bar.start(1, 0);
      try {
        return await work();
      } finally {
        bar.stop();
      }
    },
  };
}

/** A line when a meter starts, at every tenth of the way, at least every 10 s, and at its end: no control characters. */
function plainProgress(stream: ProgressStream): Progress {
  return {
    meter(label, unit, scale = (n) => n) {
      let last: { done: number; total: number } | null = null;
      let shownTenth = -1;
      let shownAt = 0;
      const line = (done: number, total: number) => {
        const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
        stream.write(`${label}: ${scale(done)}/${scale(total)} ${unit} (${percent}%)\n`);
        shownAt = Date.now();
      };
      return {
        update(done, total) {
          total = Math.max(total, done);
          last = { done, total };
          const tenth = total > 0 ? Math.floor((done / total) * 10) : 10;
          if (tenth > shownTenth || Date.now() - shownAt >= 10_000) {
            shownTenth = tenth;
            if (tenth < 10) line(done, total);
          }
        },
        stop() {
          if (last) line(last.done, last.total);
          last = null;
        },
      };
    },
    async task(label, work) {
      const since = Date.now();
      stream.write(`${label} …\n`);
      try {
        const result = await work();
        stream.write(`${label}: done in ${seconds(since)}\n`);
        return result;
      } catch (error) {
        stream.write(`${label}: failed after ${seconds(since)}\n`);
        throw error;
      }
    },
  };
}

/** Megabytes to one decimal, for meters counting bytes. */
export const mebibytes = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
