import { z } from 'zod';
import { ruleSchema } from './schema.ts';

/**
 * The JSON Schema of a rule file, derived from the zod schema (`asp rules schema`), for editors:
 * with the YAML language server, `# yaml-language-server: $schema=…` at the top of a rule file
 * gives completion, hover help and red underlines while typing. It describes the input form (fields
 * with defaults are optional). Checks that span several fields (bands, references, dates, ids
 * across files) are only in `asp rules check`.
 */
export function ruleJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ruleSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'throw' }) as Record<string, unknown>;
  const named = nameRecursiveDefinitions(schema);
  return {
    $schema: named.$schema,
    $id: 'urn:asp-engine:shock-rule',
    title: 'asp-engine shock rule',
    description:
      'One shock rule per file: when (stages, triggers), where (areas), who (households), how much (benefit), for how long (payments) and within what budget. See rules/README.md.',
    ...Object.fromEntries(Object.entries(named).filter(([key]) => key !== '$schema')),
  };
}

/**
 * zod names recursive definitions `__schema0`, `__schema1`…; give them the names a reader knows
 * (TriggerCondition, HouseholdCondition) by what they contain.
 */
function nameRecursiveDefinitions(schema: Record<string, unknown>): Record<string, unknown> {
  const defs = schema.$defs as Record<string, unknown> | undefined;
  if (!defs) return schema;
  const renames = new Map<string, string>();
  for (const [name, definition] of Object.entries(defs)) {
    const options = ((definition as { anyOf?: { properties?: Record<string, unknown> }[] }).anyOf ?? []).flatMap((option) => Object.keys(option.properties ?? {}));
    if (options.includes('k_of_n')) renames.set(name, 'TriggerCondition');
    else if (options.includes('enrolled_in')) renames.set(name, 'HouseholdCondition');
  }
  if (renames.size === 0) return schema;
  let text = JSON.stringify(schema);
  for (const [from, to] of renames) text = text.split(`"#/$defs/${from}"`).join(`"#/$defs/${to}"`);
  const renamed = JSON.parse(text) as Record<string, unknown>;
  const renamedDefs = renamed.$defs as Record<string, unknown>;
  renamed.$defs = Object.fromEntries(Object.entries(renamedDefs).map(([name, definition]) => [renames.get(name) ?? name, definition]));
  return renamed;
}
