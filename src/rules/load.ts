import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { findUnstorable } from '../db/storable.ts';
import { plainWords, suggestion, withValue, yamlProblemWords, type KnownFields } from './messages.ts';
import { isRealDate, ruleSchema, type EventCondition, type IndicatorCondition, type Rule } from './schema.ts';

/**
 * Reads shock rule files (YAML, one rule per file), validates them with the zod schema and the
 * checks that span several fields, and reports every problem at once with file, line, column and
 * field path, in plain words. A file with problems yields no rule; the others still load.
 */

/** One mistake in a rule file: where it is and what is wrong, in words. */
export interface RuleProblem {
  file: string;
  /** 1-based, as an editor shows it. */
  line: number;
  /** 1-based. */
  column: number;
  /** The field, e.g. `stages.activation.when.all[1].indicator.bands[0].min`; empty for the whole file. */
  path: string;
  message: string;
}

/** A valid rule, the file it came from and the sha256 of its canonical content (its version). */
export interface LoadedRule {
  file: string;
  rule: Rule;
  hash: string;
}

export const RULE_FILE = /\.ya?ml$/i;

/** `file:line:column: path: message`, the form editors and CI logs turn into links. */
export function formatProblem(problem: RuleProblem): string {
  const where = `${problem.file}:${problem.line}:${problem.column}`;
  return problem.path ? `${where}: ${problem.path}: ${problem.message}` : `${where}: ${problem.message}`;
}

/**
 * Loads one rule file, or every `*.yaml` / `*.yml` file under a folder (recursively, in name order).
 * Rule ids must be unique across the files loaded together.
 */
export async function loadRules(target: string): Promise<{ rules: LoadedRule[]; problems: RuleProblem[] }> {
  let files: string[];
  try {
    const info = await stat(target);
    files = info.isDirectory() ? await ruleFilesUnder(target) : [target];
  } catch (error) {
    return { rules: [], problems: [{ file: target, line: 1, column: 1, path: '', message: `cannot read: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (error as Error).message}` }] };
  }

  const rules: LoadedRule[] = [];
  const problems: RuleProblem[] = [];
  const idsSeen = new Map<string, { file: string; line: number }>();
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      problems.push({ file, line: 1, column: 1, path: '', message: `cannot read: ${(error as Error).message}` });
      continue;
    }
    const result = parseRuleText(text, file);
    const fileProblems = [...result.problems];
    if (result.id) {
      const earlier = idsSeen.get(result.id.value);
      if (earlier) {
        fileProblems.push({ file, line: result.id.line, column: result.id.column, path: 'id', message: `rule id "${result.id.value}" is already used by ${earlier.file} (line ${earlier.line}); every rule needs its own id` });
      } else {
        idsSeen.set(result.id.value, { file, line: result.id.line });
      }
    }
    fileProblems.sort((a, b) => a.line - b.line || a.column - b.column);
    problems.push(...fileProblems);
    if (fileProblems.length === 0 && result.rule && result.hash) rules.push({ file, rule: result.rule, hash: result.hash });
  }
  return { rules, problems };
}

async function ruleFilesUnder(folder: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(folder, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) found.push(...(await ruleFilesUnder(full)));
    else if (entry.isFile() && RULE_FILE.test(entry.name)) found.push(full);
  }
  return found;
}

/** The sha256 of a rule's canonical JSON: comments, key order and formatting do not change it. */
export function ruleHash(rule: Rule): string {
  return createHash('sha256').update(canonicalJson(rule)).digest('hex');
}

/** JSON with object keys sorted at every level, arrays kept in order, undefined fields left out. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).filter((key) => record[key] !== undefined).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
}

type Segment = string | number;

/** A problem before it has a position: the field path, and whether it is about a field's name. */
export interface PathProblem {
  path: Segment[];
  message: string;
  /** The problem is the name of this field (unknown field): point at the name, not the value. */
  key?: string;
}

/**
 * Validates the text of one rule file. Returns the rule and its hash when there is no problem,
 * and the id with its position (for the uniqueness check across files) whenever it can be read.
 */
export function parseRuleText(
  text: string,
  file: string,
): { rule?: Rule; hash?: string; problems: RuleProblem[]; id?: { value: string; line: number; column: number } } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  if (document.errors.length > 0) return { problems: yamlProblems(document, text, file, lineCounter) };

  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch (error) {
    return { problems: [{ file, ...firstAliasAt(document, at), path: '', message: aliasProblemWords(error) }] };
  }
  if (data === null || data === undefined) {
    return { problems: [{ file, line: 1, column: 1, path: '', message: 'the file is empty; a rule starts with "id:", "title:", …' }] };
  }

  // A rule is stored as text and jsonb, which hold no NUL (YAML writes one as "\0"); and it is a
  // few levels deep, while the checks below walk it recursively.
  const unstorable = findUnstorable(data, MAX_RULE_DEPTH);
  if (unstorable) {
    return { problems: [{ file, ...locate(document, unstorable.path, undefined, at), path: formatPath(unstorable.path), message: unstorable.problem }] };
  }

  const knownFields: KnownFields = new WeakMap();
  const parsed = ruleSchema.safeParse(data, { reportInput: true, error: plainWords(knownFields) });
  const pathProblems: PathProblem[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues as unknown as ZodIssueLike[]) {
      for (const flat of flattenUnion(issue, [], data)) pathProblems.push(...describeIssue(flat, data, knownFields));
    }
  }
  pathProblems.push(...ruleConsistencyProblems(data));

  const seen = new Set<string>();
  const problems: RuleProblem[] = [];
  for (const problem of pathProblems) {
    const where = locate(document, problem.path, problem.key, at);
    const pathText = formatPath(problem.path);
    const dedupe = `${pathText}|${problem.key ?? ''}|${problem.message}`;
    if (seen.has(dedupe)) continue;
    seen.add(dedupe);
    problems.push({ file, ...where, path: pathText, message: problem.message });
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);

  let id: { value: string; line: number; column: number } | undefined;
  if (isRecord(data) && typeof data.id === 'string') id = { value: data.id, ...locate(document, ['id'], undefined, at) };

  if (problems.length > 0 || !parsed.success) return { problems, id };
  return { rule: parsed.data, hash: ruleHash(parsed.data), problems, id };
}

/**
 * How many times a file may repeat an anchored value through aliases (`*name`) in all: plenty for
 * a rule that reuses a block, far too few for a "billion laughs" that expands to gigabytes.
 */
const MAX_ALIAS_COUNT = 100;
/** Deeper than any rule field (a condition inside `all`/`any` inside a trigger is about 8). */
const MAX_RULE_DEPTH = 32;

function aliasProblemWords(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  return /excessive alias count/i.test(message)
    ? `not a usable rule: its YAML aliases (*name) expand past ${MAX_ALIAS_COUNT} copies, as an alias bomb ("billion laughs") does; write the values out instead`
    : `not valid YAML: ${message}`;
}

/** Where the first alias of the document is, to point the reader at it. */
function firstAliasAt(document: Document, at: (offset: number) => { line: number; column: number }): { line: number; column: number } {
  let offset = 0;
  visit(document, {
    Alias(_key, node) {
      offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return at(offset);
}

/**
 * YAML syntax errors, one per mistake, placed where the reader has to look: an over-indented line
 * makes the parser complain twice about the line above; report it once, at the indented line.
 */
function yamlProblems(document: Document, text: string, file: string, lineCounter: LineCounter): RuleProblem[] {
  /** `as_is`: where the parser points; `past_indent`: not inside the indentation; `line_start`: the line's first character. */
  const position = (offset: number, mode: 'as_is' | 'past_indent' | 'line_start') => {
    const { line, col } = lineCounter.linePos(offset);
    if (mode === 'as_is') return { line, column: col };
    const lineStart = lineCounter.lineStarts[line - 1] ?? 0;
    const lineEnd = text.indexOf('\n', lineStart);
    const lineText = text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
    const indent = lineText.length - lineText.trimStart().length;
    return { line, column: mode === 'line_start' || col <= indent ? indent + 1 : col };
  };
  const multiline = new Set(document.errors.filter((e) => e.code === 'MULTILINE_IMPLICIT_KEY').map((e) => e.pos[0]));
  const problems: RuleProblem[] = [];
  const seen = new Set<string>();
  for (const error of document.errors) {
    if (error.code === 'BLOCK_AS_IMPLICIT_KEY' && multiline.has(error.pos[0])) continue;
    let where = position(error.pos[0], error.code === 'TAB_AS_INDENT' ? 'as_is' : 'past_indent');
    let message = yamlProblemWords(error.code, error.message);
    if (error.code === 'MULTILINE_IMPLICIT_KEY') {
      where = position(error.pos[1], 'line_start');
      message = `not valid YAML: this line is indented further than the field above it, so it reads as part of that field's value; line it up with the fields around it (${error.message.split('\n')[0]})`;
    }
    const key = `${where.line}:${where.column}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push({ file, ...where, path: '', message });
  }
  return problems;
}

/** `a.b[0].c` */
export function formatPath(segments: readonly Segment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out ? `.${segment}` : segment;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// From zod issues to path problems
// ---------------------------------------------------------------------------------------------

interface ZodIssueLike {
  code: string;
  path: PropertyKey[];
  message: string;
  input?: unknown;
  keys?: string[];
  errors?: ZodIssueLike[][];
  discriminator?: string;
  expected?: string;
  /** Set on issues made here (union mismatches): the unknown field this is about. */
  key?: string;
}

/** A required value that is not there (zod says so as a type, enum or union mismatch with nothing). */
const isMissing = (issue: ZodIssueLike) =>
  issue.input === undefined && ['invalid_type', 'invalid_value', 'invalid_union'].includes(issue.code) && !issue.discriminator;

/**
 * A union that no option accepted comes back with every option's issues. Pick the option the
 * author evidently meant (the one whose top-level shape fits: `{ indicator: … }` means the
 * indicator option) and report its issues; when no option stands out, say what was expected.
 */
function flattenUnion(issue: ZodIssueLike, base: Segment[], data: unknown): ZodIssueLike[] {
  const at = [...base, ...(issue.path as Segment[])];
  if (issue.code !== 'invalid_union' || !issue.errors || issue.errors.length === 0) return [{ ...issue, path: at }];
  const branches = issue.errors;
  const scores = branches.map(shapeMismatch);
  const best = Math.min(...scores);
  const winners = branches.filter((_, i) => scores[i] === best);
  if (winners.length === 1) return winners[0].flatMap((inner) => flattenUnion(inner, at, data));
  return unionMismatch(at, branches, valueAt(data, at));
}

/** How badly an option's top-level shape misses the value: a wrong type counts most. */
function shapeMismatch(branch: ZodIssueLike[]): number {
  let score = 0;
  for (const issue of branch) {
    if (issue.path.length === 0) {
      if (issue.code === 'invalid_type') score += 10;
      else if (issue.code === 'unrecognized_keys') score += issue.keys?.length ?? 1;
      else if (issue.code === 'invalid_union' || issue.code === 'invalid_value') score += 1;
    } else if (issue.path.length === 1 && isMissing(issue)) {
      score += 1;
    }
  }
  return score;
}

function unionMismatch(at: Segment[], branches: ZodIssueLike[][], value: unknown): ZodIssueLike[] {
  const last = at[at.length - 1];
  if (value === undefined) return [{ code: 'invalid_type', path: at, input: undefined, message: 'is required but missing' }];
  if (last === 'not' && Array.isArray(value)) {
    return [{ code: 'custom', path: at, message: `"not" takes exactly one condition (it has ${value.length}); to negate several, put them in one "any" or "all" inside "not"` }];
  }
  if (isRecord(value)) {
    const keys = Object.keys(value);
    const unknownIn = branches.map((branch) => new Set(branch.filter((i) => i.path.length === 0 && i.code === 'unrecognized_keys').flatMap((i) => i.keys ?? [])));
    // The field each option is named by: all, any, not, indicator… or admin_level, station, point.
    const naming = branches.map((branch, b) => {
      const missing = branch.find((i) => i.path.length === 1 && isMissing(i))?.path[0];
      return typeof missing === 'string' ? missing : keys.find((key) => !unknownIn[b].has(key));
    });
    const expected = unique(naming.filter((k): k is string => typeof k === 'string'));
    const unknownEverywhere = keys.filter((key) => unknownIn.every((set) => set.has(key)));
    const present = keys.filter((key) => expected.includes(key));
    const problems: ZodIssueLike[] = [];
    if (keys.length === 0) {
      problems.push({ code: 'custom', path: at, message: `is empty; it needs one of: ${expected.join(', ')}` });
    } else if (present.length > 1) {
      problems.push({ code: 'custom', path: at, message: `has ${present.map((k) => `"${k}"`).join(' and ')} together; only one of them may be used here (write each as its own item)` });
    }
    for (const key of unknownEverywhere) {
      const hint = suggestion(key, expected);
      problems.push({ code: 'custom', path: at, key, message: hint ? `unknown field "${key}"${hint}` : `unknown field "${key}"; one of these is expected here: ${expected.join(', ')}` });
    }
    if (problems.length === 0) problems.push({ code: 'custom', path: at, message: `does not match any allowed form; it needs one of: ${expected.join(', ')}` });
    return problems;
  }
  const forms = unique(
    branches.map((branch) => branch.find((i) => i.path.length === 0)?.message.replace(/^must be /, '').replace(/^is empty; it must be /, '')).filter((m): m is string => Boolean(m)),
  );
  const message = value === null ? `is empty; it must be ${forms.join(', or ')}` : `must be ${forms.join(', or ')}`;
  return [{ code: 'custom', path: at, message, input: value }];
}

function describeIssue(issue: ZodIssueLike, data: unknown, knownFields: KnownFields): PathProblem[] {
  const segments = issue.path as Segment[];
  if (issue.code === 'unrecognized_keys') {
    const holder = valueAt(data, segments);
    const known = (isRecord(holder) && knownFields.get(holder)) || [];
    return (issue.keys ?? []).map((key) => {
      if (segments.length === 0 && key === 'version') {
        return { path: segments, key, message: 'unknown field "version": a rule file carries no version; the engine versions each rule by a fingerprint of its content' };
      }
      const hint = suggestion(key, known);
      const list = hint ? '' : known.length > 0 ? `; the fields allowed here are: ${known.join(', ')}` : '';
      return { path: segments, key, message: `unknown field "${key}"${hint}${list}` };
    });
  }
  if (issue.key !== undefined) return [{ path: segments, key: issue.key, message: issue.message }];
  const last = segments[segments.length - 1];
  if (last === 'not' && Array.isArray(issue.input)) {
    return [{ path: segments, message: `"not" takes exactly one condition (it has ${issue.input.length}); to negate several, put them in one "any" or "all" inside "not"` }];
  }
  if (isMissing(issue) || (issue.code === 'invalid_union' && issue.discriminator && valueAt(data, segments) === undefined)) {
    const name = typeof last === 'string' ? last : 'item';
    const extra = issue.code === 'invalid_union' ? issue.message.replace(/^is required but missing/, '') : '';
    return [{ path: segments, message: `required field "${name}" is missing${extra}` }];
  }
  if (segments.length === 0 && issue.code === 'invalid_type') {
    return [{ path: segments, message: 'the file must hold one rule written as fields ("id: …", "title: …", …)' }];
  }
  return [{ path: segments, message: withValue(issue.message, issue.input, 'input' in issue) }];
}

// ---------------------------------------------------------------------------------------------
// Positions
// ---------------------------------------------------------------------------------------------

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? range[0] : undefined;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  if (key === null || key === undefined) return undefined;
  return String(key);
}

/**
 * Where a field path is in the file: the value for a plain value, the field name for a list or
 * a block of fields (or when the name itself is the problem), and the nearest enclosing field
 * when the path does not exist (a missing field is reported where its parent is written).
 */
function locate(
  document: Document,
  segments: readonly Segment[],
  key: string | undefined,
  at: (offset: number) => { line: number; column: number },
): { line: number; column: number } {
  let node: unknown = document.contents;
  let anchor = rangeStart(node) ?? 0;
  for (const segment of segments) {
    if (isAlias(node)) node = node.resolve(document);
    if (isMap(node)) {
      const pair = node.items.find((item) => keyText(item.key) === String(segment));
      if (!pair) return at(anchor);
      anchor = rangeStart(pair.key) ?? anchor;
      // An empty value (`when:` with nothing after it) is shown at its field name.
      if (pair.value === null || pair.value === undefined || (isScalar(pair.value) && pair.value.value === null)) return at(anchor);
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined || item === null) return at(anchor);
      node = item;
      anchor = rangeStart(item) ?? anchor;
    } else {
      return at(anchor);
    }
  }
  if (isAlias(node)) node = node.resolve(document);
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((item) => keyText(item.key) === key);
    const offset = pair ? rangeStart(pair.key) : undefined;
    if (offset !== undefined) return at(offset);
  }
  if (isScalar(node)) return at(rangeStart(node) ?? anchor);
  return at(anchor);
}

// ---------------------------------------------------------------------------------------------
// Checks across fields, on the raw data (so they run even when zod found other mistakes)
// ---------------------------------------------------------------------------------------------

export type UnknownRecord = Record<string, unknown>;

function isRecord(value: unknown): value is UnknownRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const unique = <T>(values: T[]): T[] => [...new Set(values)];

function valueAt(data: unknown, segments: readonly Segment[]): unknown {
  let value = data;
  for (const segment of segments) {
    if (Array.isArray(value) && typeof segment === 'number') value = value[segment];
    else if (isRecord(value)) value = value[String(segment)];
    else return undefined;
  }
  return value;
}

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

export interface TriggerVisit {
  node: UnknownRecord;
  path: Segment[];
}

/**
 * The rule's trigger conditions of one kind (stages, tiers, stop, scale-down), as written:
 * `triggerConditions(rule, 'indicator')` for what evaluation reads from the store.
 */
export function triggerConditions(rule: Rule, kind: 'indicator'): IndicatorCondition[];
export function triggerConditions(rule: Rule, kind: 'event'): EventCondition[];
export function triggerConditions(rule: Rule, kind: 'indicator' | 'event'): (IndicatorCondition | EventCondition)[] {
  return triggerNodes(rule as unknown as UnknownRecord).flatMap(({ node }) =>
    isRecord(node[kind]) ? [node[kind] as unknown as IndicatorCondition | EventCondition] : []);
}

/** Every trigger condition node in the rule, depth first, with its path. */
export function triggerNodes(rule: UnknownRecord): TriggerVisit[] {
  const visits: TriggerVisit[] = [];
  const walk = (node: unknown, at: Segment[]) => {
    if (!isRecord(node)) return;
    visits.push({ node, path: at });
    for (const key of ['all', 'any'] as const) list(node[key]).forEach((child, i) => walk(child, [...at, key, i]));
    if (isRecord(node.not)) walk(node.not, [...at, 'not']);
    if (Array.isArray(node.not)) node.not.forEach((child, i) => walk(child, [...at, 'not', i]));
    if (isRecord(node.k_of_n)) list(node.k_of_n.of).forEach((child, i) => walk(child, [...at, 'k_of_n', 'of', i]));
  };
  const stages = isRecord(rule.stages) ? rule.stages : {};
  for (const stage of ['readiness', 'activation'] as const) {
    if (isRecord(stages[stage])) walk((stages[stage] as UnknownRecord).when, ['stages', stage, 'when']);
  }
  list(rule.tiers).forEach((tier, i) => isRecord(tier) && walk(tier.when, ['tiers', i, 'when']));
  if (isRecord(rule.scale_down)) walk(rule.scale_down.when, ['scale_down', 'when']);
  list(rule.stop).forEach((stop, i) => isRecord(stop) && walk(stop.when, ['stop', i, 'when']));
  return visits;
}

/** Every household condition node (eligibility, exclusions, requirements), with its path. */
function householdNodes(rule: UnknownRecord): TriggerVisit[] {
  const visits: TriggerVisit[] = [];
  const walk = (node: unknown, at: Segment[]) => {
    if (!isRecord(node)) return;
    visits.push({ node, path: at });
    for (const key of ['all', 'any'] as const) list(node[key]).forEach((child, i) => walk(child, [...at, key, i]));
    if (isRecord(node.not)) walk(node.not, [...at, 'not']);
  };
  list(rule.response).forEach((component, c) => {
    if (!isRecord(component) || !isRecord(component.households)) return;
    const households = component.households;
    const base: Segment[] = ['response', c, 'households'];
    walk(households.eligibility, [...base, 'eligibility']);
    if (isRecord(households.exclude)) walk(households.exclude.when, [...base, 'exclude', 'when']);
    list(households.requirements).forEach((requirement, r) => isRecord(requirement) && walk(requirement.condition, [...base, 'requirements', r, 'condition']));
  });
  return visits;
}

function bandRange(band: UnknownRecord, edges: string): string {
  const min = isNumber(band.min) ? band.min : undefined;
  const max = isNumber(band.max) ? band.max : undefined;
  const [low, high] = edges === 'max_inclusive' ? ['<', '≤'] : ['≤', '<'];
  if (min !== undefined && max !== undefined) return `${min} ${low} x ${high} ${max}`;
  if (min !== undefined) return `x ${edges === 'max_inclusive' ? '>' : '≥'} ${min}`;
  if (max !== undefined) return `x ${high} ${max}`;
  return 'every value';
}

function checkBands(indicator: UnknownRecord, at: Segment[], problems: PathProblem[]): void {
  const bands = list(indicator.bands);
  const edges = indicator.band_edges === 'max_inclusive' ? 'max_inclusive' : 'min_inclusive';
  const names = new Map<string, number>();
  bands.forEach((band, i) => {
    if (!isRecord(band)) return;
    const here: Segment[] = [...at, 'bands', i];
    if (typeof band.name === 'string') {
      if (names.has(band.name)) problems.push({ path: [...here, 'name'], message: `band "${band.name}" is named twice (also item ${names.get(band.name)! + 1})` });
      else names.set(band.name, i);
    }
    if (band.min === undefined && band.max === undefined) {
      problems.push({ path: here, message: 'a band needs a min, a max or both' });
    }
    if (isNumber(band.min) && isNumber(band.max) && band.min >= band.max) {
      problems.push({ path: [...here, 'max'], message: `must be greater than min (${band.min}) (it is ${band.max})` });
    }
    if (i > 0 && band.min === undefined && band.max !== undefined) {
      problems.push({ path: here, message: `only the first band may leave "min" open; "${String(band.name)}" would overlap the bands before it` });
    }
    if (i < bands.length - 1 && band.max === undefined && band.min !== undefined) {
      problems.push({ path: here, message: `only the last band may leave "max" open; "${String(band.name)}" would overlap the bands after it` });
    }
    const previous = bands[i - 1];
    if (i > 0 && isRecord(previous)) {
      const previousStart = isNumber(previous.min) ? previous.min : -Infinity;
      if (isNumber(band.min) && band.min < previousStart) {
        problems.push({ path: [...here, 'min'], message: `bands must be listed from the lowest values to the highest: "${String(band.name)}" (${bandRange(band, edges)}) comes after "${String(previous.name)}" (${bandRange(previous, edges)})` });
      } else if (isNumber(band.min) && isNumber(previous.max) && band.min < previous.max) {
        problems.push({
          path: [...here, 'min'],
          message: `band "${String(band.name)}" (${bandRange(band, edges)}) overlaps band "${String(previous.name)}" (${bandRange(previous, edges)}); bands are half-open, so it should start at ${previous.max}`,
        });
      }
    }
  });
  list(indicator.triggering_bands).forEach((name, i) => {
    if (typeof name === 'string' && !names.has(name)) {
      problems.push({ path: [...at, 'triggering_bands', i], message: `there is no band "${name}"${suggestion(name, [...names.keys()])}; the bands are: ${[...names.keys()].join(', ') || 'none'}` });
    }
  });
}

function checkIndicator(indicator: UnknownRecord, at: Segment[], rule: UnknownRecord, problems: PathProblem[]): void {
  // In the order written, so the second one is the one reported.
  const forms = Object.keys(indicator).filter((key) => ['threshold', 'bands', 'probability'].includes(key) && indicator[key] !== undefined);
  if (forms.length === 0) problems.push({ path: at, message: 'needs exactly one of "threshold", "bands" or "probability" (it has none)' });
  if (forms.length > 1) problems.push({ path: [...at, forms[1]], message: `cannot be used together with "${forms[0]}"; an indicator condition has exactly one of threshold, bands or probability` });
  if (indicator.triggering_bands !== undefined && indicator.bands === undefined) {
    problems.push({ path: [...at, 'triggering_bands'], message: 'names bands, but this indicator has no "bands"' });
  }
  if (Array.isArray(indicator.bands)) checkBands(indicator, at, problems);

  const relative = indicator.relative_to;
  if (isRecord(relative)) {
    if (relative.reference === 'return_period_level' && relative.return_period_years === undefined) {
      problems.push({ path: [...at, 'relative_to'], message: 'a return-period reference needs "return_period_years"' });
    }
    if (relative.reference === 'danger_level' && relative.level === undefined) {
      problems.push({ path: [...at, 'relative_to'], message: 'a danger-level reference needs the danger "level"' });
    }
    const baseline = relative.baseline;
    if (isRecord(baseline) && isNumber(baseline.from_year) && isNumber(baseline.to_year) && baseline.from_year > baseline.to_year) {
      problems.push({ path: [...at, 'relative_to', 'baseline', 'to_year'], message: `must not be before from_year (${baseline.from_year})` });
    }
  }
  const forecast = indicator.forecast;
  if (isRecord(forecast)) {
    if (indicator.status === undefined || indicator.status === 'final') {
      problems.push({ path: [...at, 'forecast'], message: 'gives forecast lead times, but "status" is final (the default); set status: forecast or any' });
    }
    if (isNumber(forecast.min_lead_days) && isNumber(forecast.max_lead_days) && forecast.min_lead_days > forecast.max_lead_days) {
      problems.push({ path: [...at, 'forecast', 'max_lead_days'], message: `must not be less than min_lead_days (${forecast.min_lead_days})` });
    }
    checkForecastIssues(indicator, forecast, at, problems);
  }
  checkAggregation(indicator, at, problems);
  const spatial = indicator.spatial_unit;
  const areas = rule.areas;
  if (isRecord(spatial) && isNumber(spatial.admin_level) && isRecord(areas) && isNumber(areas.admin_level) && spatial.admin_level > areas.admin_level) {
    problems.push({
      path: [...at, 'spatial_unit', 'admin_level'],
      message: `reads the indicator at admin level ${spatial.admin_level}, finer than the areas the rule decides for (level ${areas.admin_level}); read it at level ${areas.admin_level} or coarser`,
    });
  }
}

/** Issue selection and the period forecast only make sense on forecasts, one way at a time. */
function checkForecastIssues(indicator: UnknownRecord, forecast: UnknownRecord, at: Segment[], problems: PathProblem[]): void {
  const chosen = ['for_period', 'issued_in_months', 'successive_issues'].filter((key) => forecast[key] !== undefined);
  // status final is reported above already (a forecast block on a final-only trigger).
  if (chosen.length > 0 && indicator.status === 'any') {
    problems.push({ path: [...at, 'forecast', chosen[0]], message: 'chooses which forecast periods or issues count, so "status" must be forecast, not any' });
  }
  if (forecast.issued_in_months !== undefined && forecast.successive_issues !== undefined) {
    problems.push({ path: [...at, 'forecast', 'successive_issues'], message: 'cannot be used together with "issued_in_months"; say which issues count in one way' });
  }
  const months = list(forecast.issued_in_months);
  months.forEach((month, i) => {
    if (months.indexOf(month) !== i) problems.push({ path: [...at, 'forecast', 'issued_in_months', i], message: `month ${String(month)} is listed twice` });
  });
  if ((forecast.issued_in_months !== undefined || forecast.successive_issues !== undefined) && indicator.persistence !== undefined) {
    problems.push({ path: [...at, 'persistence'], message: 'cannot be used with issued_in_months or successive_issues: those test several issues of one period, persistence several periods; use one or the other' });
  }
}

/** end_of_season reads a season calendar, not a window; `season` only goes with it. */
function checkAggregation(indicator: UnknownRecord, at: Segment[], problems: PathProblem[]): void {
  const aggregation = indicator.aggregation;
  if (!isRecord(aggregation)) return;
  if (aggregation.method === 'end_of_season' && aggregation.window !== undefined) {
    problems.push({ path: [...at, 'aggregation', 'window'], message: 'end_of_season takes the value of the period in which the season ends, from the area\'s season calendar; it has no window' });
  }
  if (aggregation.method === 'end_of_season' && indicator.persistence !== undefined) {
    problems.push({ path: [...at, 'persistence'], message: 'cannot be used with end_of_season, which reads one value per season; persistence counts consecutive periods' });
  }
  if (aggregation.season !== undefined && aggregation.method !== 'end_of_season') {
    problems.push({ path: [...at, 'aggregation', 'season'], message: `names a season, which only method end_of_season reads (the method is ${String(aggregation.method)})` });
  }
}

function checkHouseholdCondition(node: UnknownRecord, at: Segment[], problems: PathProblem[]): void {
  if ('field' in node || 'attribute' in node) {
    const op = node.op;
    const value = node.value;
    if (op === 'exists' || op === 'missing') {
      if (value !== undefined) problems.push({ path: [...at, 'value'], message: `"${op}" takes no value; remove "value"` });
    } else if (op === 'in' || op === 'not_in') {
      if (!Array.isArray(value)) problems.push({ path: value === undefined ? at : [...at, 'value'], message: `"${op}" needs a list of values, e.g. value: [a, b]` });
    } else if (typeof op === 'string') {
      if (value === undefined) problems.push({ path: at, message: `"${op}" needs a "value" to compare with` });
      else if (Array.isArray(value)) problems.push({ path: [...at, 'value'], message: `"${op}" compares with one value; use op: in for a list` });
      else if (['lt', 'lte', 'gt', 'gte'].includes(op) && typeof value !== 'number') {
        problems.push({ path: [...at, 'value'], message: `"${op}" compares numbers, so value must be a number (it is ${JSON.stringify(value)})` });
      }
    }
  }
  if (isRecord(node.percentile)) {
    const sources = ['field', 'attribute'].filter((key) => (node.percentile as UnknownRecord)[key] !== undefined);
    if (sources.length !== 1) problems.push({ path: [...at, 'percentile'], message: 'needs exactly one of "field" or "attribute" (the score the percentile is taken of)' });
  }
}

function containsEnrolment(node: unknown): boolean {
  if (!isRecord(node)) return false;
  if (node.enrolled_in !== undefined) return true;
  return list(node.all).some(containsEnrolment) || list(node.any).some(containsEnrolment);
}

function exactlyOne(record: unknown, keys: string[], at: Segment[], what: string, problems: PathProblem[]): void {
  if (!isRecord(record)) return;
  const present = Object.keys(record).filter((key) => keys.includes(key) && record[key] !== undefined);
  if (present.length === 0) problems.push({ path: at, message: `needs one of: ${keys.join(', ')} (${what})` });
  else if (present.length > 1) problems.push({ path: [...at, present[1]], message: `cannot be used together with "${present[0]}"; give only one of ${keys.join(', ')}` });
}

/** Checks a tiered value's `by_tier` keys against the tiers that apply. */
function checkByTier(value: unknown, at: Segment[], tierIds: string[], applicable: string[], problems: PathProblem[]): void {
  if (!isRecord(value)) return;
  const byTier = isRecord(value.by_tier) ? value.by_tier : isRecord(value.amounts) ? value.amounts : undefined;
  const key = isRecord(value.by_tier) ? 'by_tier' : 'amounts';
  if (!byTier) return;
  if (tierIds.length === 0) {
    problems.push({ path: [...at, key], message: 'gives values by tier, but the rule has no "tiers"' });
    return;
  }
  for (const name of Object.keys(byTier)) {
    if (!tierIds.includes(name)) problems.push({ path: [...at, key], key: name, message: `there is no tier "${name}"${suggestion(name, tierIds)}; the tiers are: ${tierIds.join(', ')}` });
  }
  const missing = applicable.filter((tier) => !(tier in byTier));
  if (missing.length > 0) problems.push({ path: [...at, key], message: `has no value for tier ${missing.map((t) => `"${t}"`).join(', ')}` });
}

/** The checks zod cannot do on one field alone. Paths point at the field to fix. */
export function ruleConsistencyProblems(data: unknown): PathProblem[] {
  const problems: PathProblem[] = [];
  if (!isRecord(data)) return problems;
  const rule = data;

  const effective = rule.effective;
  if (isRecord(effective) && typeof effective.from === 'string' && typeof effective.to === 'string' && isRealDate(effective.from) && isRealDate(effective.to) && effective.to < effective.from) {
    problems.push({ path: ['effective', 'to'], message: `must not be before effective.from (${effective.from}) (it is ${effective.to})` });
  }
  const backtest = rule.backtest;
  if (isRecord(backtest) && typeof backtest.from === 'string' && typeof backtest.to === 'string' && isRealDate(backtest.from) && isRealDate(backtest.to) && backtest.to < backtest.from) {
    problems.push({ path: ['backtest', 'to'], message: `must not be before backtest.from (${backtest.from})` });
  }
  if (isRecord(rule.monitoring)) {
    const months = list(rule.monitoring.months);
    months.forEach((month, i) => {
      if (months.indexOf(month) !== i) problems.push({ path: ['monitoring', 'months', i], message: `month ${String(month)} is listed twice` });
    });
  }

  // Triggers: ids, bands, references, k of n.
  const visits = triggerNodes(rule);
  const triggerIds = new Map<string, { path: Segment[]; bands: string[] | undefined }>();
  for (const { node, path: at } of visits) {
    for (const kind of ['indicator', 'event'] as const) {
      const condition = node[kind];
      if (!isRecord(condition) || typeof condition.id !== 'string') continue;
      if (triggerIds.has(condition.id)) {
        problems.push({ path: [...at, kind, 'id'], message: `trigger id "${condition.id}" is already used at ${formatPath(triggerIds.get(condition.id)!.path)}` });
      } else {
        const bands = Array.isArray(condition.bands) ? condition.bands.filter(isRecord).map((b) => String(b.name)) : undefined;
        triggerIds.set(condition.id, { path: [...at, kind, 'id'], bands });
      }
    }
  }
  for (const { node, path: at } of visits) {
    if (isRecord(node.indicator)) checkIndicator(node.indicator, [...at, 'indicator'], rule, problems);
    if (isRecord(node.event)) {
      const forecast = node.event.forecast;
      if (isRecord(forecast) && isNumber(forecast.min_lead_hours) && isNumber(forecast.max_lead_hours) && forecast.min_lead_hours > forecast.max_lead_hours) {
        problems.push({ path: [...at, 'event', 'forecast', 'max_lead_hours'], message: `must not be less than min_lead_hours (${forecast.min_lead_hours})` });
      }
    }
    if (isRecord(node.k_of_n) && isNumber(node.k_of_n.k) && Array.isArray(node.k_of_n.of) && node.k_of_n.k > node.k_of_n.of.length) {
      problems.push({ path: [...at, 'k_of_n', 'k'], message: `asks for ${node.k_of_n.k} conditions but only ${node.k_of_n.of.length} are listed in "of"` });
    }
    if (isRecord(node.in_band) && typeof node.in_band.trigger === 'string') {
      const target = triggerIds.get(node.in_band.trigger);
      if (!target) {
        problems.push({ path: [...at, 'in_band', 'trigger'], message: `there is no trigger with id "${node.in_band.trigger}"${suggestion(node.in_band.trigger, [...triggerIds.keys()])}; give the indicator an "id" to refer to its bands` });
      } else if (!target.bands) {
        problems.push({ path: [...at, 'in_band', 'trigger'], message: `trigger "${node.in_band.trigger}" has no bands` });
      } else {
        const trigger = node.in_band.trigger;
        list(node.in_band.bands).forEach((name, i) => {
          if (typeof name === 'string' && !target.bands!.includes(name)) {
            problems.push({ path: [...at, 'in_band', 'bands', i], message: `trigger "${trigger}" has no band "${name}"${suggestion(name, target.bands!)}; its bands are: ${target.bands!.join(', ')}` });
          }
        });
      }
    }
  }

  // Tiers.
  const tiers = list(rule.tiers).filter(isRecord);
  const tierIds: string[] = [];
  const severities = new Map<number, string>();
  list(rule.tiers).forEach((tier, i) => {
    if (!isRecord(tier)) return;
    if (typeof tier.id === 'string') {
      if (tierIds.includes(tier.id)) problems.push({ path: ['tiers', i, 'id'], message: `tier "${tier.id}" is defined twice` });
      else tierIds.push(tier.id);
    }
    if (isNumber(tier.severity)) {
      if (severities.has(tier.severity)) problems.push({ path: ['tiers', i, 'severity'], message: `severity ${tier.severity} is also given to tier "${severities.get(tier.severity)}"; each tier needs its own severity` });
      else severities.set(tier.severity, String(tier.id));
    }
  });

  // Scale-down, cool-down.
  if (isRecord(rule.scale_down) && rule.scale_down.effect === 'drop_to_lower_tier' && tiers.length < 2) {
    problems.push({ path: ['scale_down', 'effect'], message: 'drop_to_lower_tier needs at least two tiers' });
  }
  if (rule.cool_down !== undefined) exactlyOne(rule.cool_down, ['days', 'periods'], ['cool_down'], 'how long the cool-down lasts', problems);

  // Response components.
  const currencies: { currency: string; path: Segment[] }[] = [];
  let paysMoney = false;
  list(rule.response).forEach((component, c) => {
    if (!isRecord(component)) return;
    const at: Segment[] = ['response', c];
    const mode = component.mode;
    const benefit = isRecord(component.benefit) ? component.benefit : undefined;
    if (mode === 'horizontal' && component.coverage === undefined) {
      problems.push({ path: at, message: 'a horizontal response enrols more households, so it needs a coverage target ("coverage")' });
    }
    if (mode === 'vertical' && isRecord(component.households) && !containsEnrolment(component.households.eligibility)) {
      problems.push({ path: [...at, 'households'], message: 'a vertical response tops up current beneficiaries: households.eligibility must include an "enrolled_in" condition' });
    }
    if (mode === 'design_tweak') {
      if (component.tweak === undefined) problems.push({ path: at, message: 'a design tweak needs "tweak" (what changes in the running programme)' });
      if (benefit && benefit.kind !== 'none') problems.push({ path: [...at, 'benefit', 'kind'], message: 'a design tweak pays no new amount; use kind: none or a vertical response' });
    } else if (typeof mode === 'string') {
      if (component.tweak !== undefined) problems.push({ path: [...at, 'tweak'], message: 'is only for mode: design_tweak' });
      if (component.benefit === undefined) problems.push({ path: [...at, 'benefit'], message: `required field "benefit" is missing: a ${mode} response must say how much is paid` });
      if (component.payments === undefined) problems.push({ path: [...at, 'payments'], message: `required field "payments" is missing: a ${mode} response must say how often and how many times` });
    }
    if (mode === 'piggyback' && component.partner === undefined) {
      problems.push({ path: at, message: 'a piggyback response hands the list to a partner: name it in "partner"' });
    }
    const componentTiers = list(component.tiers).filter((t): t is string => typeof t === 'string');
    componentTiers.forEach((name, i) => {
      if (!tierIds.includes(name)) problems.push({ path: [...at, 'tiers', i], message: `there is no tier "${name}"${suggestion(name, tierIds)}` });
    });
    const applicable = componentTiers.length > 0 ? componentTiers : tierIds;

    const coverage = isRecord(component.coverage) ? component.coverage : undefined;
    if (coverage) {
      checkByTier(coverage.percent, [...at, 'coverage', 'percent'], tierIds, applicable, problems);
      checkByTier(coverage.count, [...at, 'coverage', 'count'], tierIds, applicable, problems);
      const caps = isRecord(component.caps) && isRecord(component.caps.per_area) ? component.caps.per_area : undefined;
      if (caps && isNumber(caps.percent_of_registered) && coverage.kind === 'share' && coverage.of === 'registered_households') {
        const targets = isNumber(coverage.percent) ? [coverage.percent] : isRecord(coverage.percent) && isRecord(coverage.percent.by_tier) ? Object.values(coverage.percent.by_tier).filter(isNumber) : [];
        const highest = Math.max(...targets);
        if (targets.length > 0 && highest > caps.percent_of_registered) {
          problems.push({ path: [...at, 'coverage', 'percent'], message: `the coverage target (${highest} %) is above the cap per area (${caps.percent_of_registered} % of registered households)` });
        }
      }
    }
    if (isRecord(component.caps)) {
      for (const part of ['per_area', 'overall'] as const) {
        const cap = component.caps[part];
        if (isRecord(cap) && Object.keys(cap).length === 0) problems.push({ path: [...at, 'caps', part], message: 'is empty; give a limit or remove it' });
      }
    }
    if (benefit) {
      if (benefit.kind !== 'none' && benefit.kind !== undefined) paysMoney = true;
      if (typeof benefit.currency === 'string') currencies.push({ currency: benefit.currency, path: [...at, 'benefit', 'currency'] });
      if (benefit.kind === 'by_tier') checkByTier(benefit, [...at, 'benefit'], tierIds, applicable, problems);
      if (benefit.kind === 'per_member' && isNumber(benefit.base) && isNumber(benefit.max_amount) && benefit.max_amount < benefit.base) {
        problems.push({ path: [...at, 'benefit', 'max_amount'], message: `must not be below the base amount (${benefit.base})` });
      }
      if (benefit.kind === 'share_of_reference' && isRecord(benefit.reference)) {
        exactlyOne(benefit.reference, ['amount', 'indicator'], [...at, 'benefit', 'reference'], 'the reference value, fixed or published as an indicator per area', problems);
      }
    }
    const payments = isRecord(component.payments) ? component.payments : undefined;
    if (payments) {
      if (isRecord(payments.start)) exactlyOne(payments.start, ['days_after_activation', 'next_month', 'with_next_regular_payment'], [...at, 'payments', 'start'], 'when the first payment is made', problems);
      if (payments.max_count !== undefined && payments.count !== 'while_triggered') {
        problems.push({ path: [...at, 'payments', 'max_count'], message: 'only goes with count: while_triggered' });
      }
      if (payments.frequency === 'once' && payments.count !== 1 && payments.count !== undefined) {
        problems.push({ path: [...at, 'payments', 'count'], message: `a single payment (frequency: once) has count 1 (it is ${JSON.stringify(payments.count)})` });
      }
    }
  });

  // Household conditions.
  for (const { node, path: at } of householdNodes(rule)) checkHouseholdCondition(node, at, problems);

  // Budget.
  const budget = isRecord(rule.budget) ? rule.budget : undefined;
  if (!budget && paysMoney && rule.budget === undefined) {
    problems.push({ path: ['budget'], message: 'required field "budget" is missing: a rule that pays money needs a budget envelope and an over-budget policy' });
  }
  if (budget) {
    const steps = list(budget.over_budget);
    steps.forEach((step, i) => {
      if (step === 'reduce_value_pro_rata' && budget.allow_value_reduction !== true) {
        problems.push({ path: ['budget', 'over_budget', i], message: 'reduces the value per household, which the rule must allow explicitly with allow_value_reduction: true' });
      }
      if (step === 'fund_most_severe_first' && tiers.length === 0) {
        problems.push({ path: ['budget', 'over_budget', i], message: 'needs "tiers" with a severity to know which areas are most severe' });
      }
      if ((step === 'reduce_caseload_pro_rata' || step === 'reduce_value_pro_rata') && budget.pro_rata_by === undefined) {
        problems.push({ path: ['budget', 'over_budget', i], message: 'say in proportion to what with "pro_rata_by" (e.g. registered_households)' });
      }
      if (steps.indexOf(step) !== i) problems.push({ path: ['budget', 'over_budget', i], message: `"${String(step)}" is listed twice` });
    });
    const envelope = isRecord(budget.envelope) ? budget.envelope : undefined;
    if (envelope && typeof envelope.currency === 'string') {
      const other = currencies.find((c) => c.currency !== envelope.currency);
      if (other) problems.push({ path: ['budget', 'envelope', 'currency'], message: `is ${envelope.currency} but benefits are paid in ${other.currency} (${formatPath(other.path)}); use one currency` });
    }
  }

  // Overlap.
  list(rule.overlap).forEach((entry, i) => {
    if (isRecord(entry) && isRecord(entry.with)) exactlyOne(entry.with, ['programme', 'rule', 'list'], ['overlap', i, 'with'], 'what the policy is about', problems);
  });

  return problems;
}
