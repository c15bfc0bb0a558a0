import type { RegistryRecord } from '../record-source.ts';

/**
 * A DCI `Group` (spdci extensions/social Group.yaml) as a household. The standard leaves most of
 * a group loosely typed, so each field is read defensively and anything unexpected is passed on as
 * text for the import's checks to name (a birth date that is not a date, a missing identifier).
 *
 * - `group_identifier[]` → registry_id: the identifier of `identifierType`, else the first one;
 * - `place.geo.{latitude, longitude}` → lat/lon; `poverty_score` → pmt_score; `group_size` → size;
 * - the head: `group_head_info`, else the member of `member_list` whose `relationship_head` says
 *   head/self (or `is_head`) → given name, surname, birth date (the date part of an ISO time),
 *   the identifier of `nationalIdType` among `demographic_info.identifier` or `member_identifier`,
 *   `phone_number`;
 * - `additional_attributes` (`[{name: value}]` or `[{name, value}]`) → attributes; the P-code is the
 *   attribute `pcodeAttribute` (agreed with the registry owner: DCI defines no area field), else
 *   none and the import derives it from lat/lon.
 */
export interface GroupMapping {
  identifierType?: string;
  nationalIdType: string;
  pcodeAttribute: string;
}

export const DEFAULT_MAPPING: GroupMapping = { nationalIdType: 'NationalID', pcodeAttribute: 'admin_pcode' };

type Json = Record<string, unknown>;

const asObject = (value: unknown): Json | undefined =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const scalar = (value: unknown): string | number | undefined =>
  typeof value === 'string' || typeof value === 'number' ? value : typeof value === 'boolean' ? String(value) : undefined;
const text = (value: unknown): string | undefined => {
  const s = scalar(value);
  return s === undefined || s === '' ? undefined : String(s);
};

function identifierOf(list: unknown, type: string | undefined): string | undefined {
  const identifiers = asList(list).map(asObject).filter((i): i is Json => Boolean(i));
  const chosen = type === undefined ? identifiers[0] : identifiers.find((i) => i.identifier_type === type);
  return text(chosen?.identifier_value);
}

function headOf(group: Json): Json | undefined {
  const head = asObject(group.group_head_info);
  if (head) return head;
  return asList(group.member_list).map(asObject).find((m) =>
    m && (m.is_head === true || /^(head|self)$/i.test(String(m.relationship_head ?? ''))));
}

/** Attributes as name → text: `[{services: 'x'}]` and `[{name: 'services', value: 'x'}]` both read. */
function attributesOf(list: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of asList(list).map(asObject)) {
    if (!item) continue;
    const name = text(item.name ?? item.attribute_name);
    if (name !== undefined && ('value' in item || 'attribute_value' in item)) {
      const value = item.value ?? item.attribute_value;
      out[name] = text(value) ?? JSON.stringify(value);
      continue;
    }
    for (const [key, value] of Object.entries(item)) out[key] = text(value) ?? JSON.stringify(value);
  }
  return out;
}

export function groupRecord(group: unknown, mapping: GroupMapping): RegistryRecord {
  const g = asObject(group) ?? {};
  const geo = asObject(asObject(g.place)?.geo);
  const head = headOf(g);
  const person = asObject(head?.demographic_info);
  const name = asObject(person?.name);
  const birth = text(person?.birth_date);
  const attributes = attributesOf(g.additional_attributes);
  const pcode = attributes[mapping.pcodeAttribute];
  delete attributes[mapping.pcodeAttribute];
  return {
    registry_id: identifierOf(g.group_identifier, mapping.identifierType) ?? '',
    admin_pcode: pcode ?? null,
    lat: scalar(geo?.latitude) ?? null,
    lon: scalar(geo?.longitude) ?? null,
    size: scalar(g.group_size) ?? null,
    pmt_score: scalar(g.poverty_score) ?? null,
    head_first_name: text(name?.given_name) ?? null,
    head_last_name: text(name?.surname) ?? null,
    // `1985-05-20T00:00:00Z` (the spec's example) is the date 1985-05-20; anything else goes on
    // whole, for the import's check to name.
    head_birth_date: birth && /^\d{4}-\d{2}-\d{2}T/.test(birth) ? birth.slice(0, 10) : (birth ?? null),
    national_id: identifierOf(person?.identifier, mapping.nationalIdType) ?? identifierOf(head?.member_identifier, mapping.nationalIdType) ?? null,
    phone: text(person?.phone_number ?? person?.phone) ?? null,
    attributes,
  };
}
