import { z } from 'zod';
import type { RouteSpec } from './route.ts';

/**
 * The OpenAPI 3.1 document, generated from the route declarations and their zod schemas (zod's
 * own JSON Schema output, which is the dialect OpenAPI 3.1 uses).
 */
export function openApiDocument(routes: RouteSpec[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of routes) {
    const path = `/api${spec.path.replace(/:([A-Za-z]+)/g, '{$1}')}`;
    const parameters = [
      ...objectParameters(spec.params, 'path'),
      ...objectParameters(spec.query, 'query'),
    ];
    const responses: Record<string, unknown> = {
      200: spec.produces
        ? { description: 'the file', content: { [spec.produces]: { schema: { type: 'string' } } } }
        : { description: 'success', content: { 'application/json': { schema: spec.response ? jsonSchema(spec.response) : { type: 'object' } } } },
      400: errorResponse('the request is not valid: every field path and message'),
      404: errorResponse('no such thing'),
      409: errorResponse('the thing is in a state that does not allow this'),
    };
    if (spec.roles !== 'public') {
      responses[401] = errorResponse('no API key, or an unknown or revoked one');
      responses[403] = errorResponse(`the key's role may not do this (allowed: ${['admin', ...spec.roles].join(', ')})`);
    }
    const operation: Record<string, unknown> = {
      tags: [spec.tag],
      summary: spec.summary,
      operationId: `${spec.method}${spec.path.replace(/[/:-]+([a-zA-Z])/g, (_, c: string) => c.toUpperCase())}`,
      parameters,
      responses,
      ...(spec.roles === 'public' ? { security: [] } : { 'x-roles': ['admin', ...spec.roles] }),
    };
    if (spec.body) {
      operation.requestBody = {
        required: true,
        content: spec.textBody ? { [spec.textBody]: { schema: { type: 'string' } } } : { 'application/json': { schema: jsonSchema(spec.body) } },
      };
    }
    (paths[path] ??= {})[spec.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'asp-engine API',
      version,
      description: 'Adaptive social protection: feeds, shock rules, activations, payment lists, partners and audit. ' +
        'Authenticate with `Authorization: Bearer <API key>` (asp keys create). Errors are `{ "error": { "code", "message", "details"? } }`.',
    },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'an API key from `asp keys create`' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', enum: ['bad_request', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'too_many_requests', 'payload_too_large', 'internal'] },
                message: { type: 'string' },
                details: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
              },
            },
          },
        },
      },
    },
    paths,
  };
}

function errorResponse(description: string) {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

function objectParameters(schema: z.ZodObject | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const properties = (jsonSchema(schema).properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((jsonSchema(schema).required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}
