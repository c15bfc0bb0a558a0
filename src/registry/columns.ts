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
  'head_first_name',
  'head_last_name',
  'head_birth_date',
  'national_id',
  'phone',
] as const;

export type CanonicalColumn = (typeof CANONICAL_COLUMNS)[number];

export const isCanonical = (name: string): name is CanonicalColumn =>
  (CANONICAL_COLUMNS as readonly string[]).includes(name);
