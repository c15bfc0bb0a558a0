import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { areasGeoJson } from '../areas/area-geojson.ts';
import { listAudit, verifyAudit } from '../audit/verify.ts';
import { loadConfig } from '../config.ts';
import type { Store } from '../db/store.ts';
import {
  closeActivation, confirmActivation, forceActivation, getActivation, listActivations, rejectActivation,
} from '../engine/activations.ts';
import { listDeclarations, recordDeclaration } from '../engine/declarations.ts';
import { NotFoundError } from '../errors.ts';
import { EXPORT_FORMATS, exportContentType, exportFileName, exportList } from '../exports/index.ts';
import { footprintsGeoJson } from '../feeds/footprint-geojson.ts';
import { feedHealth, listQuarantine } from '../feeds/health.ts';
import { generateLists } from '../engine/targeting/generate-lists.ts';
import { approveList, cancelList, closeList, getList, listLists, type ListRow } from '../lists/lifecycle.ts';
import { listNamedLists, recordNamedList } from '../engine/targeting/named-lists.ts';
import { addPartner, listPartners } from '../lists/partners.ts';
import { paymentTotals, reconcileList } from '../lists/reconcile.ts';
import { releaseList } from '../lists/release.ts';
import { backtestRule } from '../engine/backtest.ts';
import { dryRunRule } from '../engine/dry-run.ts';
import { formatProblem, loadRules } from '../rules/load.ts';
import { approveRuleVersion, listRuleVersions } from '../rules/versions.ts';
import type { Caller } from './keys.ts';
import { paymentRoutes } from './payment-routes.ts';
import { idParams, route, type RouteSpec } from './route.ts';

/** Who did it, for the audit log and the activation history: the key's label and id. */
const actor = (caller: Caller) => `${caller.label} [key ${caller.keyId}]`;

const STAFF = ['rule-author', 'coordinator', 'approver'] as const;
const reasonBody = z.object({ reason: z.string().trim().min(1, { error: 'give the reason' }) });
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'a date written YYYY-MM-DD' });

/** A text body (a rule file, a CSV) written to a temporary file for the functions that read files. */
async function withTempFile<T>(name: string, content: string, work: (file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'asp-api-'));
  try {
    const file = path.join(dir, name);
    await writeFile(file, content);
    return await work(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The release of a list to a partner: a partner sees a list only once it was released to it; to
 * that partner any other list does not exist.
 */
async function releaseTo(store: Store, listId: number, partnerId: string): Promise<number> {
  const { rows } = await store.transaction(({ raw }) =>
    raw.query<{ id: number }>(`SELECT id FROM list_releases WHERE list_id = $1 AND partner_id = $2`, [listId, partnerId]),
  );
  if (rows.length === 0) throw new NotFoundError(`payment list ${listId} does not exist`);
  return Number(rows[0].id);
}

/**
 * What a partner may see of a list: what it pays. Not who generated or approved it, nor who was
 * left out and why (excluded, cuts), nor a cancellation's reason.
 */
const partnerView = (l: ListRow) => ({
  id: l.id, ruleId: l.ruleId, programme: l.programme, cycle: l.cycle, status: l.status, currency: l.currency,
  households: l.households, totalAmount: l.totalAmount, contentSha256: l.contentSha256,
});

async function visibleList(store: Store, caller: Caller, id: number): Promise<ListRow> {
  if (caller.role === 'partner') await releaseTo(store, id, caller.partnerId!);
  return getList(store, id);
}

export function apiRoutes(version: string): RouteSpec[] {
  return [
    // --- public -------------------------------------------------------------------------------
    route({
      method: 'get', path: '/config', tag: 'meta', summary: 'map settings for the dashboard (an optional tile server)', roles: 'public',
      handler: async () => {
        const config = loadConfig();
        return { tileUrl: config.ASP_TILE_URL ?? null, tileAttribution: config.ASP_TILE_ATTRIBUTION ?? null, version };
      },
    }),
    route({
      method: 'get', path: '/me', tag: 'meta', summary: "the calling key's role and partner", roles: [...STAFF, 'partner'],
      handler: async ({ caller }) => ({ role: caller.role, partnerId: caller.partnerId, label: caller.label }),
    }),

    // --- areas, events, feeds -------------------------------------------------------------------
    route({
      method: 'get', path: '/areas', tag: 'areas', summary: 'admin areas of one level as GeoJSON (simplified for maps)', roles: [...STAFF],
      query: z.object({ level: z.coerce.number().int().min(0).max(6).default(2).describe('admin level') }),
      handler: async ({ store, query }) => areasGeoJson(store, query.level as number),
    }),
    route({
      method: 'get', path: '/events', tag: 'events', summary: 'current hazard footprints of open events as GeoJSON', roles: [...STAFF],
      handler: async ({ store }) => footprintsGeoJson(store),
    }),
    route({
      method: 'get', path: '/feeds', tag: 'feeds', summary: 'feed health: last success, last error, failures, stale', roles: [...STAFF],
      handler: async ({ store }) => ({ feeds: await feedHealth(store) }),
    }),
    route({
      method: 'get', path: '/feeds/quarantine', tag: 'feeds', summary: 'records and payloads refused, with the reason', roles: [...STAFF],
      query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(200) }),
      handler: async ({ store, query }) => ({ quarantine: await listQuarantine(store, query.limit as number) }),
    }),

    // --- rules ----------------------------------------------------------------------------------
    route({
      method: 'get', path: '/rules', tag: 'rules', summary: 'stored rule versions (draft, approved, retired)', roles: [...STAFF],
      handler: async ({ store }) => ({ versions: await listRuleVersions(store) }),
    }),
    route({
      method: 'post', path: '/rules/check', tag: 'rules', summary: 'validate a rule file (YAML): every problem with line and column', roles: ['rule-author'],
      body: z.string().min(1, { error: 'send the rule file as text/yaml' }), textBody: 'text/yaml',
      handler: async ({ body }) =>
        withTempFile('rule.yaml', body as string, async (file) => {
          const { rules, problems } = await loadRules(file);
          // Named as sent (rule.yaml), never by the server's temporary path.
          const named = problems.map((p) => formatProblem({ ...p, file: 'rule.yaml' }));
          return { valid: problems.length === 0, rules: rules.map((r) => ({ id: r.rule.id, hash: r.hash })), problems: named };
        }),
    }),
    route({
      method: 'post', path: '/rules/dry-run', tag: 'rules', summary: 'what a rule file would decide now (or at a date), with households and cost; nothing written',
      roles: ['rule-author', 'coordinator'],
      query: z.object({ at: z.iso.datetime().optional().describe('evaluate as of this instant') }),
      body: z.string().min(1, { error: 'send the rule file as text/yaml' }), textBody: 'text/yaml',
      handler: async ({ store, body, query }) =>
        withTempFile('rule.yaml', body as string, (file) => dryRunRule(store, file, (query.at as string | undefined) ?? new Date().toISOString())),
    }),
    route({
      method: 'post', path: '/rules/backtest', tag: 'rules', summary: 'replay a stored rule over the stored history', roles: ['rule-author', 'coordinator'],
      body: z.object({ rule: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, { error: 'a stored rule id' }), from: isoDate, to: isoDate }),
      handler: async ({ store, body }) => {
        const b = body as { rule: string; from: string; to: string };
        return backtestRule(store, b.rule, { from: b.from, to: b.to });
      },
    }),
    route({
      method: 'post', path: '/rules/:ruleId/approve', tag: 'rules', summary: 'approve the latest draft of a rule (not by its author)', roles: ['approver'],
      params: z.object({ ruleId: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/) }),
      handler: async ({ store, params, caller }) => ({ version: await approveRuleVersion(store, params.ruleId as string, actor(caller)) }),
    }),

    // --- activations and declarations -----------------------------------------------------------
    route({
      method: 'get', path: '/activations', tag: 'activations', summary: 'activations with their evidence', roles: [...STAFF],
      query: z.object({ status: z.enum(['open', 'rejected', 'closed']).optional(), rule: z.string().optional() }),
      handler: async ({ store, query }) => ({ activations: await listActivations(store, { status: query.status as string | undefined, ruleId: query.rule as string | undefined }) }),
    }),
    route({
      method: 'get', path: '/activations/:id', tag: 'activations', summary: 'one activation with its evidence and history', roles: [...STAFF], params: idParams,
      handler: async ({ store, params }) => ({ activation: await getActivation(store, params.id as number) }),
    }),
    ...(['confirm', 'reject', 'force', 'close'] as const).map((decision) =>
      route({
        method: 'post', path: `/activations/:id/${decision}`, tag: 'activations', summary: `${decision} an activation, with the reason`, roles: ['coordinator'],
        params: idParams, body: reasonBody,
        handler: async ({ store, params, body, caller }) => {
          const act = { confirm: confirmActivation, reject: rejectActivation, force: forceActivation, close: closeActivation }[decision];
          return { activation: await act(store, params.id as number, actor(caller), (body as { reason: string }).reason) };
        },
      }),
    ),
    route({
      method: 'get', path: '/declarations', tag: 'activations', summary: 'official declarations recorded', roles: [...STAFF],
      handler: async ({ store }) => ({ declarations: await listDeclarations(store) }),
    }),
    route({
      method: 'post', path: '/declarations', tag: 'activations', summary: 'record an official declaration (a trigger and a gate)', roles: ['coordinator'],
      body: z.object({}).passthrough().describe('a declaration: id, kind, hazard, issuer, date, valid_until?, document {reference}, areas {pcodes} | {polygon}'),
      handler: async ({ store, body, caller }) => ({ declaration: await recordDeclaration(store, body, actor(caller)) }),
    }),

    // --- lists ----------------------------------------------------------------------------------
    route({
      method: 'get', path: '/lists', tag: 'lists', summary: 'payment lists (a partner sees only those released to it)', roles: ['coordinator', 'approver', 'partner'],
      query: z.object({ status: z.enum(['draft', 'approved', 'released', 'closed', 'cancelled']).optional() }),
      handler: async ({ store, query, caller }) => {
        const lists = await listLists(store, { status: query.status as string | undefined });
        if (caller.role !== 'partner') return { lists };
        const { rows } = await store.transaction(({ raw }) => raw.query<{ id: number }>(`SELECT list_id AS id FROM list_releases WHERE partner_id = $1`, [caller.partnerId]));
        const released = new Set(rows.map((r) => Number(r.id)));
        return { lists: lists.filter((l) => released.has(l.id)).map(partnerView) };
      },
    }),
    route({
      method: 'get', path: '/lists/:id', tag: 'lists', summary: 'one list with its payment totals', roles: ['coordinator', 'approver', 'partner'], params: idParams,
      handler: async ({ store, params, caller }) => {
        const id = params.id as number;
        if (caller.role !== 'partner') return { list: await getList(store, id), totals: await paymentTotals(store, id) };
        // A partner's totals count only what it reported itself.
        const releaseId = await releaseTo(store, id, caller.partnerId!);
        return { list: partnerView(await getList(store, id)), totals: await paymentTotals(store, id, releaseId) };
      },
    }),
    route({
      method: 'post', path: '/lists', tag: 'lists', summary: "generate (or regenerate a draft of) the lists for an activation's rule and cycle", roles: ['coordinator'],
      body: z.object({ activationId: z.number().int().positive(), cycle: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/).optional() }),
      handler: async ({ store, body, caller }) => {
        const b = body as { activationId: number; cycle?: string };
        return { lists: await generateLists(store, b.activationId, actor(caller), { cycle: b.cycle }) };
      },
    }),
    route({
      method: 'get', path: '/named-lists', tag: 'lists', summary: "lists kept outside the engine (e.g. another agency's) that rules' overlaps name", roles: ['coordinator', 'approver'],
      handler: async ({ store }) => ({ namedLists: await listNamedLists(store) }),
    }),
    route({
      method: 'post', path: '/named-lists', tag: 'lists', summary: 'record a named list for a shock and/or a cycle (append-only; every registry id must be known)', roles: ['coordinator'],
      body: z.object({
        name: z.string().min(1), source: z.string().min(1), registryIds: z.array(z.string()),
        shockKey: z.string().min(1).optional(), cycle: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/).optional(),
      }),
      handler: async ({ store, body, caller }) => ({ namedList: await recordNamedList(store, body as { name: string; source: string; registryIds: string[]; shockKey?: string; cycle?: string }, actor(caller)) }),
    }),
    route({
      method: 'post', path: '/lists/:id/approve', tag: 'lists', params: idParams, roles: ['approver'],
      summary: 'approve a draft list as reviewed: its content hash (entriesSha256) and version; 409 if it changed since (four eyes; a second approver above the threshold)',
      body: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: 'the content hash you reviewed (entriesSha256): 64 hexadecimal characters' }), version: z.number().int().positive().optional() }),
      handler: async ({ store, params, body, caller }) => ({ list: await approveList(store, params.id as number, actor(caller), body as { sha256: string; version?: number }) }),
    }),
    route({
      method: 'post', path: '/lists/:id/cancel', tag: 'lists', summary: 'cancel a list with the reason', roles: ['approver', 'coordinator'], params: idParams, body: reasonBody,
      handler: async ({ store, params, body, caller }) => ({ list: await cancelList(store, params.id as number, actor(caller), (body as { reason: string }).reason) }),
    }),
    route({
      method: 'post', path: '/lists/:id/close', tag: 'lists', summary: 'close a released list once paid', roles: ['approver', 'coordinator'], params: idParams,
      handler: async ({ store, params, caller }) => ({ list: await closeList(store, params.id as number, actor(caller)) }),
    }),
    route({
      method: 'post', path: '/lists/:id/release', tag: 'lists', summary: 'release an approved list to a partner (purpose, expiry, pseudonymous ids)', roles: ['approver'], params: idParams,
      body: z.object({ partnerId: z.string().min(1), purpose: z.string().trim().min(1), expiresOn: isoDate }),
      handler: async ({ store, params, body, caller }) => ({ release: await releaseList(store, params.id as number, body as { partnerId: string; purpose: string; expiresOn: string }, actor(caller)) }),
    }),
    route({
      method: 'get', path: '/lists/:id/export', tag: 'lists', summary: "download a list; a partner gets its release: pseudonymous ids, its fields only", roles: ['coordinator', 'approver', 'partner'],
      params: idParams, query: z.object({ format: z.enum(EXPORT_FORMATS).default('csv') }), produces: 'text/csv',
      handler: async ({ store, params, query, caller, res }) => {
        const id = params.id as number;
        const format = query.format as (typeof EXPORT_FORMATS)[number];
        if (caller.role === 'partner') await visibleList(store, caller, id);
        const partnerId = caller.role === 'partner' ? caller.partnerId! : undefined;
        // Download headers only once the export is allowed: a refusal is an ordinary JSON error, not a file.
        const onStart = () => {
          res.setHeader('Content-Type', exportContentType(format));
          res.setHeader('Content-Disposition', `attachment; filename="${exportFileName(id, format, partnerId)}"`);
        };
        await exportList(store, id, format, res, { partnerId, onStart }, actor(caller));
        res.end();
        return undefined;
      },
    }),
    route({
      method: 'post', path: '/lists/:id/reconcile', tag: 'lists', summary: 'upload per-row payment status (CSV: id,status,amount,reason)', roles: ['coordinator', 'partner'],
      params: idParams, body: z.string().min(1, { error: 'send the CSV as text/csv' }), textBody: 'text/csv',
      handler: async ({ store, params, body, caller }) => {
        const id = params.id as number;
        if (caller.role === 'partner') await visibleList(store, caller, id);
        const report = await withTempFile('status.csv', body as string, (file) =>
          reconcileList(store, id, file, actor(caller), { partnerId: caller.role === 'partner' ? caller.partnerId! : undefined }));
        return caller.role === 'partner' ? { ...report, totals: await paymentTotals(store, id, report.releaseId) } : report;
      },
    }),

    // --- partners and audit ---------------------------------------------------------------------
    route({
      method: 'get', path: '/partners', tag: 'partners', summary: 'partners and the fields each may receive', roles: ['coordinator', 'approver'],
      handler: async ({ store }) => ({ partners: await listPartners(store) }),
    }),
    route({
      method: 'post', path: '/partners', tag: 'partners', summary: 'add or update a partner (admin)', roles: [],
      body: z.object({ id: z.string(), name: z.string(), role: z.string(), fields: z.array(z.string()).min(1), pseudonymise: z.boolean().default(true) }),
      handler: async ({ store, body, caller }) => ({ partner: await addPartner(store, body as Parameters<typeof addPartner>[1], actor(caller)) }),
    }),
    route({
      method: 'get', path: '/audit', tag: 'audit', summary: 'the audit log, newest first (admin)', roles: [],
      query: z.object({ subject: z.string().optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }),
      handler: async ({ store, query }) => ({ audit: await listAudit(store, { subject: query.subject as string | undefined, limit: query.limit as number }) }),
    }),
    route({
      method: 'get', path: '/audit/verify', tag: 'audit', summary: 'recompute the audit hash chain and check the row signatures with the server key; names the first broken link (admin)', roles: [],
      handler: async ({ store }) => verifyAudit(store),
    }),
    ...paymentRoutes(),
  ];
}

