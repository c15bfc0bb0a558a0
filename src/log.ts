import pino from 'pino';

/**
 * The structured logger. Logs go to stderr so that `--json` output on stdout stays clean.
 * Never log personal data: no names, phone numbers, registry ids or accounts; counts and P-codes only.
 * With ASP_LOG_FILE, every line is also appended to that file (owner-only), e.g. for the tests that
 * scan a whole run's logs for personal data, or for a host without a log collector.
 */
const logFile = process.env.ASP_LOG_FILE;

export const log = pino(
  { level: process.env.LOG_LEVEL ?? 'info', base: { app: 'asp-engine' } },
  logFile
    ? pino.multistream([
        // The logger's level decides; the streams take whatever it lets through.
        { level: 'trace', stream: pino.destination(2) },
        { level: 'trace', stream: pino.destination({ dest: logFile, append: true, mkdir: true, mode: 0o600, sync: true }) },
      ])
    : pino.destination(2),
);
