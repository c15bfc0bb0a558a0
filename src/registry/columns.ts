/** The canonical household CSV columns; any other column goes to `attributes`. */
export const CANONICAL_COLUMNS = [
  'registry_id',
  'admin_pcode',
  'lat',
  'lon',
  'size',
  'pmt_score',
  'programmes',
  'payment_channel',
  'payment_account',
] as const;

export type CanonicalColumn = (typeof CANONICAL_COLUMNS)[number];

export const isCanonical = (name: string): name is CanonicalColumn =>
  (CANONICAL_COLUMNS as readonly string[]).includes(name);
