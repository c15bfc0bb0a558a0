import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { UserError } from '../errors.ts';

/**
 * Reads a YAML configuration or data file, validated with its zod schema. Every problem is a
 * UserError naming the file, the line and the field: `data/feeds.yaml:12: feeds.3.schedule: not a
 * valid cron expression`.
 *
 * ```ts
 * const data = await readYamlFile('data/feeds.yaml', feedsFileSchema, 'the feed configuration')
 * ```
 */
export async function readYamlFile<T>(file: string, schema: z.ZodType<T>, what: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UserError(`${file}: cannot read ${what}: ${(error as Error).message}`);
  }
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new UserError(`${file}: not valid YAML`, document.errors.map((e) => `${file}:${e.linePos?.[0]?.line ?? '?'}: ${e.message}`));
  }
  const parsed = schema.safeParse(document.toJS());
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => {
      const node = document.getIn(issue.path as (string | number)[], true) as { range?: [number, number] } | undefined;
      const line = node?.range ? text.slice(0, node.range[0]).split('\n').length : undefined;
      return `${file}${line ? `:${line}` : ''}: ${issue.path.join('.')}: ${issue.message}`;
    });
    throw new UserError(`${file}: ${what} is invalid`, details);
  }
  return parsed.data;
}

/**
 * A reader of one kind of shipped YAML data file (the indicator catalogue, the hazard extents),
 * built once per file (they change with a release, not at run time).
 *
 * ```ts
 * const loadLimits = dataFileReader(limitsSchema, 'the hazard extents', (data) => limitsOf(data))
 * const limits = await loadLimits('data/hazard-extents.yaml')
 * ```
 */
export function dataFileReader<T, R>(schema: z.ZodType<T>, what: string, build: (data: T) => R): (file: string) => Promise<R> {
  const loaded = new Map<string, Promise<R>>();
  return (file) => {
    let result = loaded.get(file);
    if (!result) {
      result = readYamlFile(file, schema, what).then(build);
      result.catch(() => loaded.delete(file));
      loaded.set(file, result);
    }
    return result;
  };
}
