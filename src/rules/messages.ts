/**
 * Zod's messages ("Invalid input: expected number, received string") in words a ministry official
 * understands: "must be a number between 0 and 100 (it is "abc")", "unknown field "treshold" — did
 * you mean "threshold"?". Used by load.ts; nothing here knows about YAML or files.
 */

/** Edit distance (insertions, deletions, substitutions, swaps of two neighbours) between two words. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

const normalise = (word: string) => word.toLowerCase().replace(/[\s-]+/g, '_');

/** The closest candidate to a mistyped word, if one is close enough to be what was meant. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const wanted = normalise(word);
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, normalise(candidate));
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  if (!best) return undefined;
  const allowed = Math.max(1, Math.floor(Math.max(word.length, best.candidate.length) / 3));
  return best.distance <= allowed ? best.candidate : undefined;
}

/** ` — did you mean "x"?` or nothing. */
export function suggestion(word: string, candidates: readonly string[]): string {
  const match = didYouMean(word, candidates);
  return match && match !== word ? ` — did you mean "${match}"?` : '';
}

/** A value as a person would read it back: "abc" in quotes, 12, true, a list of 2 items… */
export function describeValue(value: unknown): string {
  if (value === null) return 'empty';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : value.length === 1 ? 'a list of 1 item' : `a list of ${value.length} items`;
  if (typeof value === 'object') {
    const keys = Object.keys(value as object);
    return keys.length === 0 ? 'an empty set of fields' : `a set of fields (${keys.slice(0, 4).join(', ')}${keys.length > 4 ? ', …' : ''})`;
  }
  return String(value);
}

const EXPECTED_WORDS: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'text',
  boolean: 'true or false',
  array: 'a list',
  object: 'a set of fields (name: value)',
  tuple: 'a list',
  record: 'a set of fields (name: value)',
  literal: 'a fixed value',
};

/** Known field names of the strict objects met while validating, by the object that was checked. */
export type KnownFields = WeakMap<object, string[]>;

/**
 * Per-parse zod error map: plain words for the issues whose schema did not carry its own message,
 * and a note of the known fields of every object that had an unknown one (for did-you-mean).
 */
export function plainWords(knownFields: KnownFields) {
  return (issue: any): string | undefined => {
    switch (issue.code) {
      case 'unrecognized_keys': {
        const shape = issue.inst?._zod?.def?.shape;
        if (shape && issue.input && typeof issue.input === 'object') knownFields.set(issue.input, Object.keys(shape));
        return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k: string) => `"${k}"`).join(', ')}`;
      }
      case 'invalid_type': {
        if (issue.input === undefined) return 'is required but missing';
        const expected = EXPECTED_WORDS[issue.expected] ?? issue.expected;
        if (issue.input === null) return `is empty; it must be ${expected}`;
        return `must be ${expected}`;
      }
      case 'invalid_value': {
        const values: unknown[] = issue.values ?? [];
        if (values.length === 1) return `must be ${JSON.stringify(values[0])}`;
        const words = values.map(String);
        const given = typeof issue.input === 'string' ? suggestion(issue.input, words) : '';
        return `must be one of: ${words.join(', ')} (it is ${describeValue(issue.input)})${given}`;
      }
      case 'invalid_union': {
        if (issue.discriminator) {
          const options: string[] = (issue.options ?? []).map(String);
          const value = issue.input && typeof issue.input === 'object' ? (issue.input as Record<string, unknown>)[issue.discriminator] : undefined;
          if (value === undefined) return `is required but missing; it is one of: ${options.join(', ')}`;
          const given = typeof value === 'string' ? suggestion(value, options) : '';
          return `must be one of: ${options.join(', ')} (it is ${describeValue(value)})${given}`;
        }
        return undefined;
      }
      case 'too_small': {
        if (issue.origin === 'array') return issue.minimum === 1 ? 'must list at least one item' : `must list at least ${issue.minimum} items`;
        if (issue.origin === 'string') return 'must not be empty';
        return `must be at least ${issue.minimum}`;
      }
      case 'too_big': {
        if (issue.origin === 'array') return `must list at most ${issue.maximum} items`;
        if (issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
        return `must be at most ${issue.maximum}`;
      }
      case 'invalid_format':
        return 'is not written the right way';
      case 'invalid_key':
        return 'has a name that is not allowed here';
      default:
        return undefined;
    }
  };
}

/** Adds what the value is, and a hint for numbers written with separators, to a "must be …" message. */
export function withValue(message: string, input: unknown, hasInput: boolean): string {
  if (!hasInput || input === undefined || message.includes('(it is ')) return message;
  if (input === null) return message.startsWith('is empty') ? message : `${message} (it is empty)`;
  let result = `${message} (it is ${describeValue(input)})`;
  if (typeof input === 'string' && /^-?\d{1,3}([,' ]\d{3})+(\.\d+)?$/.test(input.trim()) && message.includes('number')) {
    result += ' — write numbers without thousands separators, e.g. 2700';
  } else if (typeof input === 'string' && /^-?\d+(\.\d+)?\s*%$/.test(input.trim()) && message.includes('number')) {
    result += ' — write the number without the % sign';
  }
  return result;
}

const YAML_WORDS: Record<string, string> = {
  BAD_INDENT: 'the indentation is wrong here (fields at the same level must start in the same column)',
  BAD_INDICATOR: 'a character here has a special meaning in YAML; put the text in quotes',
  BLOCK_AS_IMPLICIT_KEY: 'a field name is missing its value, or the indentation is wrong',
  DUPLICATE_KEY: 'this field is written twice in the same place',
  MISSING_CHAR: 'a closing quote or bracket is missing',
  MULTILINE_IMPLICIT_KEY: 'a field name runs over several lines: check the indentation and the colon after the name',
  MULTIPLE_DOCS: 'the file holds several YAML documents (separated by ---); put one rule per file',
  TAB_AS_INDENT: 'tabs are not allowed for indentation; use spaces',
  UNEXPECTED_TOKEN: 'unexpected text here: check the indentation and the colons',
  BAD_SCALAR_START: 'this value cannot start with this character; put it in quotes',
  BAD_DQ_ESCAPE: 'a backslash escape in double quotes is not valid',
};

/** A YAML syntax error in plain words, keeping the parser's own wording after it. */
export function yamlProblemWords(code: string, message: string): string {
  const first = message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  // The parser gives up on nesting thousands of levels deep with its stack exhausted.
  if (/call stack/i.test(first)) return 'not valid YAML: nested too deeply to read (no rule field is more than a few levels deep)';
  const words = YAML_WORDS[code];
  return words ? `not valid YAML: ${words} (${first})` : `not valid YAML: ${first}`;
}
