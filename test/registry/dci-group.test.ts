import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_MAPPING, groupRecord } from '../../src/registry/dci/group-record.ts';
import { specsDir, SPEC_FILES } from '../support/specs.ts';

// The Group the DCI Social Registry spec itself gives as the example of a search result record.
const spec = parse(readFileSync(path.join(specsDir, SPEC_FILES.social), 'utf8'));
const example = spec.components.schemas.SearchResponse.properties.search_response.items.properties.data.properties.reg_records.items.example;

describe('a DCI Group as a household', () => {
  it("maps the spec's own example Group: identifier, place, score, size, head and attributes", () => {
    expect(groupRecord(example, { ...DEFAULT_MAPPING, identifierType: 'NationalID' })).toEqual({
      registry_id: 'G9876543210',
      admin_pcode: null,
      lat: '40.712776',
      lon: '-74.005974',
      size: 4,
      pmt_score: 45.2,
      head_first_name: 'Alice',
      head_last_name: 'Smith',
      head_birth_date: '1985-05-20',
      national_id: '9876543210',
      phone: null,
      attributes: { services: 'receives_subsidy' },
    });
  });

  it('takes the P-code from the agreed attribute, the head from the member list, and leaves odd values for the checks to name', () => {
    const group = {
      group_identifier: [{ identifier_type: 'HouseholdID', identifier_value: 'HH-9' }],
      group_size: 'three',
      member_list: [
        { relationship_head: 'spouse', demographic_info: { name: { given_name: 'Bob' } } },
        { relationship_head: 'self', demographic_info: { name: { given_name: 'Ann', surname: 'Ekai' }, birth_date: '20.05.1985', phone_number: '+254711' } },
      ],
      additional_attributes: [{ name: 'ward_pcode', value: 'XD01001' }, { livelihood: 'pastoral' }],
    };
    expect(groupRecord(group, { identifierType: 'HouseholdID', nationalIdType: 'NationalID', pcodeAttribute: 'ward_pcode' })).toMatchObject({
      registry_id: 'HH-9', admin_pcode: 'XD01001', size: 'three', head_first_name: 'Ann', head_last_name: 'Ekai',
      head_birth_date: '20.05.1985', phone: '+254711', attributes: { livelihood: 'pastoral' },
    });
    // No identifier of the configured type: an empty registry_id, which the import names as required.
    expect(groupRecord(group, { ...DEFAULT_MAPPING, identifierType: 'NationalID' }).registry_id).toBe('');
  });
});
