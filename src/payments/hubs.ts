import path from 'node:path';
import { z } from 'zod';
import { loadConfig } from '../config.ts';
import { UserError } from '../errors.ts';
import { readYamlFile } from '../feeds/data-file.ts';
import type { SecretRef } from '../interop/secrets.ts';

/**
 * The payment hubs a list can be pushed to, from the YAML file named by ASP_HUBS (none when
 * unset). A hub pays for one partner: a list must be released to that partner, and the release
 * decides what the hub receives. Problems name the file, line and field, as data/feeds.yaml's do.
 *
 * ```yaml
 * hubs:
 *   - name: mpesa-hub
 *     adapter: g2p-connect
 *     url: https://hub.example.org/g2p        # POST {url}/disburse, {url}/disburse/sync/txn/status
 *     partner: mpesa
 *     jwks: https://hub.example.org/.well-known/jwks.json   # or a file; verifies its callbacks
 *     token: { env: MPESA_HUB_TOKEN }         # optional bearer token, by reference
 *   - name: bridge
 *     adapter: g2p-bridge                     # OpenG2P G2P Bridge partner API: POST {url}/create_disbursement_envelopes, …
 *     url: https://bridge.example.org/api/g2p-bridge
 *     partner: national-bank
 *     benefit_program_mnemonic: CASH-ASP      # the program the Bridge was configured with
 *     sender_app_mnemonic: asp-engine         # optional (default ASP_SENDER_ID): the Bridge finds our JWKS by it
 *     benefit_program_id: 12                  # benefit_program_id, benefit_code_id, target_registry: as the Bridge has them
 *     benefit_code_id: 3
 *     target_registry: SOCIAL
 * ```
 */

const secretRef = z
  .object({ env: z.string().min(1).optional(), file: z.string().min(1).optional() })
  .strict()
  .refine((r) => Boolean(r.env) !== Boolean(r.file), 'name exactly one of env or file');

const hubSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, - and _'),
    adapter: z.enum(['g2p-connect', 'g2p-bridge']),
    url: z.string().url(),
    partner: z.string().min(1),
    /** The hub's public keys: a URL or a file (relative to this file); callbacks must be signed with one. Required for g2p-connect. */
    jwks: z.string().min(1).optional(),
    /** g2p-bridge: the Bridge's benefit program its envelopes are for (required), and our app's mnemonic there. */
    benefit_program_mnemonic: z.string().min(1).max(100).optional(),
    sender_app_mnemonic: z.string().min(1).max(100).optional(),
    /** g2p-bridge: the program's and benefit code's ids in the Bridge and the registry the list comes from (the current Bridge refuses an envelope without them). */
    benefit_program_id: z.number().int().optional(),
    benefit_code_id: z.number().int().optional(),
    target_registry: z.string().min(1).max(100).optional(),
    /** The hub's id in our messages' receiver_id and in its callbacks' sender_id (default: name). */
    hub_id: z.string().min(1).optional(),
    token: secretRef.optional(),
    chunk_size: z.number().int().min(1).max(10_000).default(1000),
    /** How txn/status is answered: in the response (sync, /disburse/sync/txn/status) or by callback at /g2p/txn/on-status. */
    status: z.enum(['sync', 'async']).default('sync'),
    /** An item without a final status this long after its message was acknowledged is asked about. */
    status_after_seconds: z.number().min(0).default(300),
    retry: z
      .object({
        attempts: z.number().int().min(1).max(50).default(8),
        base_ms: z.number().int().min(1).default(1000),
        max_ms: z.number().int().min(1).default(300_000),
        timeout_ms: z.number().int().min(100).default(60_000),
      })
      .strict()
      .default({ attempts: 8, base_ms: 1000, max_ms: 300_000, timeout_ms: 60_000 }),
  })
  .strict()
  .superRefine((h, ctx) => {
    if (h.adapter === 'g2p-connect' && !h.jwks) ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'a g2p-connect hub needs the JWKS its callbacks are signed with' });
    if (h.adapter === 'g2p-bridge' && !h.benefit_program_mnemonic) ctx.addIssue({ code: 'custom', path: ['benefit_program_mnemonic'], message: 'a g2p-bridge hub needs the benefit program its envelopes are for' });
    // The Bridge neither calls back nor signs its answers (core/partner-api): statuses are pulled, in the answer.
    if (h.adapter === 'g2p-bridge' && h.jwks) ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'a g2p-bridge hub signs nothing for us to verify: leave jwks out' });
    if (h.adapter === 'g2p-bridge' && h.status === 'async') ctx.addIssue({ code: 'custom', path: ['status'], message: 'a g2p-bridge hub answers status requests in the response: status must be sync' });
    const bridgeOnly = (['benefit_program_mnemonic', 'sender_app_mnemonic', 'benefit_program_id', 'benefit_code_id', 'target_registry'] as const).filter((k) => h[k] !== undefined);
    if (h.adapter !== 'g2p-bridge' && bridgeOnly.length > 0) ctx.addIssue({ code: 'custom', path: [bridgeOnly[0]], message: 'only a g2p-bridge hub takes this field' });
  });

const hubsFileSchema = z.object({ hubs: z.array(hubSchema) }).strict();

export interface Hub {
  name: string;
  adapter: 'g2p-connect' | 'g2p-bridge';
  url: string;
  partnerId: string;
  /** Absent for a hub that neither calls back nor signs its answers (g2p-bridge without one). */
  jwks?: string;
  /** g2p-bridge only. */
  bridge?: { benefitProgram: string; senderApp?: string; programId?: number; benefitCodeId?: number; targetRegistry?: string };
  hubId: string;
  token?: SecretRef;
  chunkSize: number;
  status: 'sync' | 'async';
  statusAfterMs: number;
  retry: { attempts: number; baseMs: number; maxMs: number; timeoutMs: number };
}

/** The configured hubs (ASP_HUBS, or `file`); an empty list when none is configured. */
export async function loadHubs(file: string | undefined = loadConfig().ASP_HUBS): Promise<Hub[]> {
  if (!file) return [];
  const { hubs } = await readYamlFile(file, hubsFileSchema, 'the payment hubs configuration');
  const names = new Set<string>();
  const folder = path.dirname(path.resolve(file));
  return hubs.map((h) => {
    if (names.has(h.name)) throw new UserError(`${file}: hub name ${h.name} is used twice`);
    names.add(h.name);
    return {
      name: h.name, adapter: h.adapter, url: h.url.replace(/\/+$/, ''), partnerId: h.partner,
      jwks: h.jwks === undefined || /^https?:\/\//.test(h.jwks) ? h.jwks : path.resolve(folder, h.jwks), hubId: h.hub_id ?? h.name,
      ...(h.benefit_program_mnemonic
        ? { bridge: { benefitProgram: h.benefit_program_mnemonic, senderApp: h.sender_app_mnemonic, programId: h.benefit_program_id, benefitCodeId: h.benefit_code_id, targetRegistry: h.target_registry } }
        : {}),
      token: h.token, chunkSize: h.chunk_size, status: h.status, statusAfterMs: h.status_after_seconds * 1000,
      retry: { attempts: h.retry.attempts, baseMs: h.retry.base_ms, maxMs: h.retry.max_ms, timeoutMs: h.retry.timeout_ms },
    };
  });
}

/** The hub named, or an error naming the configured ones. */
export async function getHub(name: string, file?: string): Promise<Hub> {
  const hubs = await loadHubs(file);
  const hub = hubs.find((h) => h.name === name);
  if (!hub) {
    const configured = hubs.map((h) => h.name).join(', ');
    throw new UserError(`no payment hub ${name}${configured ? ` (configured: ${configured})` : ' (none is configured: set ASP_HUBS to a hubs file, see docs/payments.md)'}`);
  }
  return hub;
}

/** Where hubs call back: ASP_PUBLIC_URL, required to push. */
export function publicUrl(): string {
  const url = loadConfig().ASP_PUBLIC_URL;
  if (!url) throw new UserError('ASP_PUBLIC_URL is not set: a hub needs the base URL it calls back (e.g. https://asp.example.org)');
  return url.replace(/\/+$/, '');
}
