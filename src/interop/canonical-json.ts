/**
 * JSON with object keys sorted at every level and no spaces: the form a signed message is hashed
 * in, so that the sender and the receiver hash the same bytes whatever order their JSON writers
 * use. For the JSON values messages hold (strings, finite numbers, booleans, null, arrays,
 * objects) this is RFC 8785's canonical form: keys sorted by UTF-16 code units, numbers and
 * strings as JSON.stringify writes them.
 *
 * JSON.stringify does the writing, with each object's keys re-inserted in sorted order (a whole
 * registry page is hashed on every pull, and this is several times faster than writing it by
 * hand). Keys that look like array indices ("2", "10") are the exception: JavaScript orders them
 * numerically whatever the insertion order, so an object holding one is written by the plain
 * recursive writer instead.
 */
export function canonicalJson(value: unknown): string {
  let indexLikeKey = false;
  const fast = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error('a signed message cannot hold a non-finite number');
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const keys = Object.keys(v).sort();
    // No prototype: a key named __proto__ (JSON.parse gives one) must stay a key, not be swallowed.
    const sorted: Record<string, unknown> = Object.create(null);
    for (const k of keys) {
      if (INDEX_LIKE.test(k)) indexLikeKey = true;
      sorted[k] = (v as Record<string, unknown>)[k];
    }
    return sorted;
  });
  return indexLikeKey ? written(value) : (fast ?? 'null');
}

const INDEX_LIKE = /^(0|[1-9][0-9]*)$/;

/** The plain recursive writer: the reference the fast path is tested against. */
export function written(value: unknown): string {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return written((value as { toJSON: () => unknown }).toJSON());
  }
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('a signed message cannot hold a non-finite number');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined || typeof v === 'function' ? 'null' : written(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && typeof v !== 'function')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${written(v)}`).join(',')}}`;
}
