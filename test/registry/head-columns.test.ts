import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { importRecords, importRegistry } from '../../src/registry/import-registry.ts';
import { registryWorld } from '../support/registry-world.ts';
import { tempFile } from '../support/files.ts';

const world = registryWorld();

const heads = () =>
  world.t.store.db.selectFrom('households')
    .select(['registry_id', 'head_first_name', 'head_last_name', 'national_id', 'phone', 'attributes'])
    .select((e) => e.fn<string>('to_char', ['head_birth_date', e.val('YYYY-MM-DD')]).as('birth'))
    .orderBy('registry_id').execute();
const problemsOf = async (work: Promise<unknown>) => ((await work.catch((e: unknown) => e)) as UserError).details;

describe("the head's names, birth date, national id and phone", () => {
  it('are read from CSV columns into their own columns, and kept by a later file without them', async () => {
    const file = await tempFile('heads.csv', [
      'registry_id,admin_pcode,head_first_name,head_last_name,head_birth_date,national_id,phone',
      'H-1,XD01001,Amina,Dida,1984-02-29,NID-1,+254700000001',
      'H-2,XD01001,,,,,',
    ].join('\n') + '\n');
    expect(await importRegistry(world.t.store, file)).toMatchObject({ inserted: 2, rejected: 0 });
    const later = await tempFile('later.csv', 'registry_id,admin_pcode,size\nH-1,XD01001,3\n');
    expect(await importRegistry(world.t.store, later)).toMatchObject({ updated: 1 });
    expect(await heads()).toEqual([
      { registry_id: 'H-1', head_first_name: 'Amina', head_last_name: 'Dida', birth: '1984-02-29', national_id: 'NID-1', phone: '+254700000001', attributes: {} },
      { registry_id: 'H-2', head_first_name: null, head_last_name: null, birth: null, national_id: null, phone: null, attributes: {} },
    ]);
  });

  it('refuse a birth date that is not a real date or lies in the future, and an identifier too long, naming line and column', async () => {
    const tomorrow = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    const file = await tempFile('bad-heads.csv', [
      'registry_id,admin_pcode,head_birth_date,national_id',
      'H-1,XD01001,2023-02-29,',
      `H-2,XD01001,${tomorrow},`,
      'H-3,XD01001,12/05/1980,',
      'H-4,XD01001,0000-01-01,',
      `H-5,XD01001,1990-01-01,${'9'.repeat(1001)}`,
    ].join('\n') + '\n');
    expect(await problemsOf(importRegistry(world.t.store, file))).toEqual([
      `${file}: line 2, column head_birth_date: "2023-02-29" is not a date written YYYY-MM-DD`,
      `${file}: line 3, column head_birth_date: "${tomorrow}" is in the future`,
      `${file}: line 4, column head_birth_date: "12/05/1980" is not a date written YYYY-MM-DD`,
      `${file}: line 5, column head_birth_date: "0000-01-01" is not a date written YYYY-MM-DD`,
      `${file}: line 6, column national_id: is 1001 bytes long; at most 1000 (a value that long is not plausible)`,
    ]);
    expect(await heads()).toEqual([]);
  });

  it('come the same way from registry records, whose problems name the source and the record', async () => {
    const source = (records: { registry_id: string; head_birth_date?: string; admin_pcode?: string; enrolment?: 'active' | 'exited' }[]) => ({
      label: 'test-registry',
      records: (async function* () {
        for (const [i, record] of records.entries()) yield { record: { admin_pcode: 'XD01001', ...record }, where: `item ${i + 1}` };
      })(),
    });
    expect(await problemsOf(importRecords(world.t.store, source([{ registry_id: 'R-1', head_birth_date: '1999-13-01' }, { registry_id: 'R-1' }]), {}))).toEqual([
      'test-registry: item 1, field head_birth_date: "1999-13-01" is not a date written YYYY-MM-DD',
      'test-registry: item 2, field registry_id: the same registry_id is already at item 1',
    ]);
    await importRecords(world.t.store, source([{ registry_id: 'R-1' }, { registry_id: 'R-2' }]), { programme: 'CT' });
    // A record marked exited ends its enrolment in the pull's programme; the other stays active.
    const report = await importRecords(world.t.store, source([{ registry_id: 'R-1', enrolment: 'exited' }, { registry_id: 'R-2' }]), { programme: 'CT' });
    expect(report).toMatchObject({ rows: 2, unchanged: 2, enrolled: 0 });
    const enrolments = await world.t.store.db.selectFrom('enrolments').innerJoin('households', 'households.id', 'enrolments.household_id')
      .select(['registry_id', 'status']).orderBy('registry_id').execute();
    expect(enrolments).toEqual([{ registry_id: 'R-1', status: 'exited' }, { registry_id: 'R-2', status: 'active' }]);
  });
});
