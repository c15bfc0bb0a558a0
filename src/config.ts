import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const configSchema = z.object({
  DATABASE_URL: z.string().url().optional(),
  ASP_DATA_DIR: z.string().min(1).default('.asp-data'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  /** The feed configuration the scheduler runs; default the project's data/feeds.yaml. */
  ASP_FEEDS: z.string().min(1).default(fileURLToPath(new URL('../data/feeds.yaml', import.meta.url))),
  /**
   * The secret behind partners' pseudonymous ids (HMAC-SHA256). Without it, one is generated at
   * first use and kept in the database (engine_settings), which suits a single installation.
   */
  ASP_PSEUDONYM_SECRET: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  /**
   * The deployment's ed25519 audit key (PEM), which signs audit rows and checkpoints; default
   * audit-key.pem in the data folder. Named here, it must exist (`asp audit keygen` creates it).
   */
  ASP_AUDIT_KEY_FILE: z.string().min(1).optional(),
  /** A payment list whose total exceeds this needs a second approver (four eyes become six). */
  ASP_SECOND_APPROVAL_ABOVE: z.coerce.number().min(0).default(10_000_000),
  /** An optional map tile server for the dashboard (e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png); none by default, so it works offline. */
  ASP_TILE_URL: z.string().url().optional(),
  ASP_TILE_ATTRIBUTION: z.string().optional(),
  /** Requests per minute per API key (or per address without one). */
  ASP_RATE_LIMIT: z.coerce.number().int().min(1).default(1200),
  /** The payment hubs configuration (YAML, see docs/payments.md); none configured when unset. */
  ASP_HUBS: z.string().min(1).optional(),
  /** The base URL hubs and registries call back, e.g. https://asp.example.org (the API's /g2p/… routes). */
  ASP_PUBLIC_URL: z.string().url().optional(),
  /** The engine's ed25519 message signing keys; default signing-keys in the data folder. */
  ASP_SIGNING_KEY_DIR: z.string().min(1).optional(),
  /** The engine's sender_id in signed messages (and kidId). */
  ASP_SENDER_ID: z.string().min(1).default('asp-engine'),
});

export type Config = z.infer<typeof configSchema>;

/** The environment, parsed once; a bad value stops start-up with the variable's name. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid environment: ${problems.join('; ')}`);
  }
  return parsed.data;
}
