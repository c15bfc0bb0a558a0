import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import { parse } from 'yaml';
import { projectRoot } from './paths.ts';

/**
 * The contract: the G2P Connect and DCI OpenAPI files in ../shared/reference/specs, read in place.
 * `contract(file).request('/disburse', body)` lists what is wrong with a message against the
 * operation's JSON request body schema (empty when it validates); `.schema('Ack', value)` checks
 * against one component. Tests assert `toEqual([])`, so a failure names each violation and where.
 *
 * One patch, said here because a test that edits its contract must say so: the G2P Connect file's
 * `DisburseRequest` requires a misspelled `disburemsents` while its properties (and every sender)
 * say `disbursements` (specs/README.md). The required entry is corrected in memory; nothing else is.
 * Likewise the DCI registry core's `UnSubscribeRequest` requires `sunscription_codes` while its
 * property is `subscription_codes`: corrected the same way.
 */

export const specsDir = path.resolve(projectRoot, '../shared/reference/specs');

export const SPEC_FILES = {
  disburse: 'g2pconnect-disburse_core_api_v1.0.0.yaml',
  social: 'dci-social_api_v1.0.0.yaml',
  registryCore: 'dci-registry_core_api_v1.0.0.yaml',
  jwks: 'dci-jwks_core_api_v1.0.0.yaml',
  ibr: 'dci-ibr_api_v1.0.0.yaml',
} as const;

type SpecName = keyof typeof SPEC_FILES;

export interface Contract {
  /** Problems of a request body sent to (or received at) `POST operationPath`. */
  request(operationPath: string, body: unknown): string[];
  /** Problems of a synchronous response body of `POST operationPath` (its 200 or default response). */
  response(operationPath: string, body: unknown): string[];
  /** Problems of a value against `#/components/schemas/NAME`. */
  schema(name: string, value: unknown): string[];
}

const contracts = new Map<SpecName, Contract>();

export function contract(name: SpecName): Contract {
  let found = contracts.get(name);
  if (!found) {
    found = load(name);
    contracts.set(name, found);
  }
  return found;
}

function load(name: SpecName): Contract {
  const file = SPEC_FILES[name];
  // biome-ignore lint: the document is whatever the YAML holds
  const doc = parse(readFileSync(path.join(specsDir, file), 'utf8')) as any;
  if (name === 'disburse') patchMisspelledRequired(doc);
  if (name === 'registryCore') patchMisspelledRequired(doc, 'UnSubscribeRequest', 'sunscription_codes', 'subscription_codes');
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  // ajv-formats is CommonJS: its function is the default export's `default` under ES modules.
  (formats as unknown as { default: (a: Ajv) => void }).default(ajv);
  // OpenAPI's numeric formats: a number of any size is accepted here, as JSON carries it.
  for (const f of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password']) ajv.addFormat(f, true);
  const id = `spec:${file}`;
  // cdpi_FinancialAddress writes a regular expression as its `format`; as a pattern it would refuse
  // the file's own examples (`token:12345@national-id` has a colon it does not allow). Validators
  // ignore an unknown format, and so does this one; tests check `type:id@provider` themselves.
  for (const format of regexFormats(doc)) ajv.addFormat(format, true);
  ajv.addSchema(toJsonSchema(literalRefs(doc, doc)) as object, id);
  const compiled = new Map<string, ValidateFunction>();
  const validator = (pointer: string) => {
    let v = compiled.get(pointer);
    if (!v) {
      v = ajv.compile({ $ref: `${id}#${pointer}` });
      compiled.set(pointer, v);
    }
    return v;
  };
  const run = (pointer: string, value: unknown, what: string) => {
    const v = validator(pointer);
    if (v(value)) return [];
    return (v.errors ?? []).map((e) => `${what}${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
  };
  const operation = (operationPath: string) => {
    const op = doc.paths?.[operationPath]?.post;
    if (!op) throw new Error(`${file}: no POST ${operationPath}`);
    return `/paths/${escape(operationPath)}/post`;
  };
  return {
    request: (operationPath, body) =>
      run(`${operation(operationPath)}/requestBody/content/application~1json/schema`, body, `POST ${operationPath} body`),
    response: (operationPath, body) => {
      const op = doc.paths[operationPath].post;
      const code = op.responses['200'] ? '200' : 'default';
      let response = op.responses[code];
      let pointer = `${operation(operationPath)}/responses/${code}`;
      if (response.$ref) {
        pointer = String(response.$ref).slice(1);
        response = resolve(doc, pointer);
      }
      return run(`${pointer}/content/application~1json/schema`, body, `POST ${operationPath} response`);
    },
    schema: (schemaName, value) => run(`/components/schemas/${escape(schemaName)}`, value, schemaName),
  };
}

function patchMisspelledRequired(doc: { components: { schemas: Record<string, { required?: string[] }> } }, schema = 'DisburseRequest', wrong = 'disburemsents', right = 'disbursements') {
  const required = doc.components.schemas[schema]?.required;
  const at = required?.indexOf(wrong) ?? -1;
  if (!required || at < 0) throw new Error(`the spec no longer has the misspelled required entry ${schema}.${wrong}: remove the patch`);
  required[at] = right;
}

/** OpenAPI 3.0 `nullable: true` is JSON Schema's "or null"; the rest of the schema dialect Ajv reads as is. */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = toJsonSchema(value);
  if (out.nullable === true) {
    delete out.nullable;
    return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

/**
 * The bundled DCI files point some `$ref`s through other `$ref`s (`…/query/oneOf/1/properties/value`
 * where `oneOf/1` is itself a reference): each such pointer is rewritten to the place it reaches.
 */
function literalRefs(node: unknown, doc: unknown): unknown {
  if (Array.isArray(node)) return node.map((n) => literalRefs(n, doc));
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `#${literalPointer(doc, value.slice(1))}` : literalRefs(value, doc);
  }
  return out;
}

function literalPointer(doc: unknown, pointer: string, depth = 0): string {
  if (depth > 50) throw new Error(`a $ref loop at ${pointer}`);
  let at: any = doc;
  let literal = '';
  for (const part of pointer.split('/').slice(1)) {
    if (at && typeof at.$ref === 'string' && !(part in at)) {
      literal = literalPointer(doc, at.$ref.slice(1), depth + 1);
      at = resolve(doc, literal);
    }
    at = at?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    literal += `/${part}`;
    if (at === undefined) throw new Error(`a $ref to nothing: ${pointer}`);
  }
  return literal;
}

function regexFormats(node: unknown, found = new Set<string>()): Set<string> {
  if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'format' && typeof value === 'string' && value.startsWith('^')) found.add(value);
      else regexFormats(value, found);
    }
  }
  return found;
}

const escape = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

function resolve(doc: unknown, pointer: string): any {
  let at: any = doc;
  for (const part of pointer.split('/').slice(1)) at = at[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return at;
}
