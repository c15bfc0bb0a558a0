import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { Store } from '../db/store.ts';
import type { Caller, Role } from './keys.ts';

/**
 * One route of the API, declared once: method, path, who may call it, the zod schemas of its
 * path parameters, query and body, and the handler. The app registers routes from these
 * declarations and the OpenAPI document is generated from the same ones, so the two cannot drift.
 */
export interface RouteSpec {
  method: 'get' | 'post';
  /** Express path under /api, e.g. `/activations/:id/confirm`. */
  path: string;
  tag: string;
  summary: string;
  /** `public` needs no key; otherwise the roles allowed (admin always is). */
  roles: Role[] | 'public';
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** A text body (CSV, YAML) instead of JSON. */
  textBody?: 'text/csv' | 'text/yaml';
  /** What a 200 answer is: JSON by default, or a file. */
  produces?: string;
  response?: z.ZodType;
  handler: (context: RouteContext) => Promise<unknown>;
}

export interface RouteContext {
  store: Store;
  /** Null only on public routes. */
  caller: Caller;
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  body: unknown;
  req: Request;
  res: Response;
}

/** Declares a route (typed helper; the table is plain data). */
export const route = (spec: RouteSpec): RouteSpec => spec;

/** An id in the path: a whole number. */
export const idParams = z.object({ id: z.coerce.number().int().positive().describe('numeric id') });

/** A validation failure: 400 with every field path and message. */
export class RequestError extends Error {
  constructor(readonly details: { path: string; message: string }[]) {
    super('the request is not valid');
  }
}

/** Validates one part of the request; collects every issue of every part before failing. */
export function parsePart(schema: z.ZodType | undefined, value: unknown, where: string, issues: { path: string; message: string }[]): any {
  if (!schema) return value;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) issues.push({ path: [where, ...issue.path.map(String)].join('.'), message: issue.message });
  return undefined;
}

/** Registers the routes on a router (the caller mounts it under /api). */
export function mountRoutes(router: Router, routes: RouteSpec[], store: Store, authorise: (spec: RouteSpec, req: Request) => Promise<Caller | null>): void {
  for (const spec of routes) {
    router[spec.method](spec.path, async (req, res, next) => {
      try {
        const caller = await authorise(spec, req);
        const issues: { path: string; message: string }[] = [];
        const params = parsePart(spec.params, req.params, 'params', issues);
        const query = parsePart(spec.query, req.query, 'query', issues);
        const body = parsePart(spec.body, spec.textBody ? (typeof req.body === 'string' ? req.body : undefined) : (req.body ?? {}), 'body', issues);
        if (issues.length > 0) throw new RequestError(issues);
        const result = await spec.handler({ store, caller: caller as Caller, params, query, body, req, res });
        if (result !== undefined && !res.headersSent) res.json(result);
      } catch (error) {
        next(error);
      }
    });
  }
}
