import type { RegistryRecord } from '../record-source.ts';
import type { GroupBeneficiaryNode, JsonExt, LocationNode } from './group-beneficiaries.ts';

/**
 * Which `jsonExt` keys hold what the engine keeps in columns. openIMIS leaves these to each
 * deployment's beneficiary data schema; the first key present wins. Phone and national id are
 * looked for on the head first, then on the group, then on the beneficiary.
 */
export interface JsonExtKeys {
  size: string[];
  pmtScore: string[];
  phone: string[];
  nationalId: string[];
}

export const DEFAULT_JSON_EXT_KEYS: JsonExtKeys = {
  size: ['number_of_members', 'household_size', 'size'],
  pmtScore: ['pmt_score', 'poverty_score'],
  phone: ['phone', 'phone_number', 'mobile_number'],
  nationalId: ['national_id', 'national_id_number', 'nin'],
};

export interface RecordMapping {
  /** What becomes registry_id: the group's code (default) or its uuid. */
  registryId: 'code' | 'uuid';
  keys: JsonExtKeys;
  /** openIMIS location code → P-code (area_codes, scheme `openimis`). */
  crosswalk: ReadonlyMap<string, string>;
}

export interface MappedHousehold {
  record: RegistryRecord;
  /** The group's location code when neither it nor a parent has a P-code in the crosswalk. */
  unmappedLocation?: string;
}

/**
 * One group beneficiary → one household. The location is the first of the group's location and
 * its parents that the crosswalk maps (a village maps through its district when only districts are
 * listed); when none does, the location code itself is passed on, so the import's P-code check
 * names the record (and a deployment whose location codes are P-codes needs no crosswalk).
 * With `enrolment`, a beneficiary that is not ACTIVE, or deleted, or whose group is deleted, exits.
 */
export function householdRecord(node: GroupBeneficiaryNode, mapping: RecordMapping, enrolment: boolean): MappedHousehold {
  const group = node.group;
  const groupExt = parseJsonExt(group.jsonExt);
  const beneficiaryExt = parseJsonExt(node.jsonExt);
  const headExt = parseJsonExt(group.head?.jsonExt ?? null);
  const pick = (keys: string[], ...sources: Record<string, unknown>[]) => {
    for (const source of sources) for (const key of keys) if (isPresent(source[key])) return String(source[key]);
    return null;
  };
  const { pcode, unmapped } = locate(group.location, mapping.crosswalk);
  const used = new Set(Object.values(mapping.keys).flat());
  const record: RegistryRecord = {
    registry_id: mapping.registryId === 'uuid' ? group.uuid : group.code,
    admin_pcode: pcode,
    size: pick(mapping.keys.size, groupExt, beneficiaryExt),
    pmt_score: pick(mapping.keys.pmtScore, groupExt, beneficiaryExt),
    head_first_name: blankToNull(group.head?.firstName),
    head_last_name: blankToNull(group.head?.lastName),
    head_birth_date: birthDate(group.head?.dob),
    phone: pick(mapping.keys.phone, headExt, groupExt, beneficiaryExt),
    national_id: pick(mapping.keys.nationalId, headExt, groupExt, beneficiaryExt),
    attributes: flatAttributes({ ...beneficiaryExt, ...groupExt }, used),
  };
  if (enrolment) record.enrolment = node.status === 'ACTIVE' && !node.isDeleted && !group.isDeleted ? 'active' : 'exited';
  return unmapped ? { record, unmappedLocation: unmapped } : { record };
}

function locate(location: LocationNode | null, crosswalk: ReadonlyMap<string, string>): { pcode: string | null; unmapped?: string } {
  if (!location) return { pcode: null };
  for (let at: LocationNode | null = location; at; at = at.parent) {
    const pcode = crosswalk.get(at.code);
    if (pcode) return { pcode };
  }
  return { pcode: location.code, unmapped: location.code };
}

/** graphene's JSONString arrives as JSON text; some deployments' resolvers give the object itself. */
export function parseJsonExt(value: JsonExt): Record<string, unknown> {
  if (value === null || value === undefined || value === '') return {};
  if (typeof value === 'object') return Array.isArray(value) ? {} : value;
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Nested objects become dotted keys; lists become JSON text; empty values are left out. */
function flatAttributes(ext: Record<string, unknown>, skip: Set<string>, prefix = ''): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [key, value] of Object.entries(ext)) {
    if (!prefix && skip.has(key)) continue;
    if (!isPresent(value)) continue;
    const name = prefix + key;
    if (typeof value === 'object' && !Array.isArray(value)) Object.assign(flat, flatAttributes(value as Record<string, unknown>, skip, `${name}.`));
    else flat[name] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return flat;
}

const isPresent = (value: unknown) => value !== null && value !== undefined && String(value).trim() !== '';
const blankToNull = (value: string | null | undefined) => (value && value.trim() ? value.trim() : null);
/** openIMIS's `dob` is a Date (`1980-05-01`); a DateTime-shaped value keeps its date part. */
const birthDate = (dob: string | null | undefined) => (dob && /^\d{4}-\d{2}-\d{2}/.test(dob) ? dob.slice(0, 10) : blankToNull(dob));
