import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { UserError } from '../errors.ts';

/**
 * A reader of one kind of shipped YAML data file (the indicator catalogue, the hazard extents):
 * validated with its zod schema, built once per file (they change with a release, not at run
 * time); an invalid file is a UserError naming the file and each field.
 *
 * ```ts
 * const loadLimits = dataFileReader(limitsSchema, 'the hazard extents', (data) => limitsOf(data))
 * const limits = await loadLimits('data/hazard-extents.yaml')
 * ```
 */
export function dataFileReader<T, R>(schema: z.ZodType<T>, what: string, build: (data: T) => R): (file: string) => Promise<R> {
  const loaded = new Map<string, Promise<R>>();
  const read = async (file: string): Promise<R> => {
    const document = parseDocument(await readFile(file, 'utf8'));
    const parsed = schema.safeParse(document.errors.length > 0 ? null : document.toJS());
    if (!parsed.success) {
      const problems = document.errors.length > 0
        ? document.errors.map((e) => e.message)
        : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
      throw new UserError(`${file}: ${what} is invalid`, problems);
    }
    return build(parsed.data);
  };
  return (file) => {
    let result = loaded.get(file);
    if (!result) {
      result = read(file);
      result.catch(() => loaded.delete(file));
      loaded.set(file, result);
    }
    return result;
  };
}
