import pino from 'pino';

/**
 * The structured logger. Logs go to stderr so that `--json` output on stdout stays clean.
 * Never log personal data: no names, phone numbers, registry ids or accounts; counts and P-codes only.
 */
export const log = pino(
  { level: process.env.LOG_LEVEL ?? 'info', base: { app: 'asp-engine' } },
  pino.destination(2),
);
