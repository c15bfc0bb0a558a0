import { describe, expect, it } from 'vitest';
import { readRegistryIds } from '../../src/cli/named-list-commands.ts';
import { tempFile } from '../support/files.ts';

describe('the file of a named list (asp lists record-named)', () => {
  it('reads the registry_id column of a CSV, or one id a line', async () => {
    expect(await readRegistryIds(await tempFile('agency.csv', '\uFEFFname,registry_id\r\n"Ana",H-1\r\nBo,"H-2"\r\n\r\n'))).toEqual(['H-1', 'H-2']);
    expect(await readRegistryIds(await tempFile('ids.txt', 'H-1\n H-2 \n\n'))).toEqual(['H-1', 'H-2']);
  });

  it('names the line of a CSV row without an id, and a file it cannot read', async () => {
    await expect(readRegistryIds(await tempFile('gap.csv', 'registry_id,name\nH-1,a\n,b\n'))).rejects.toThrow(/gap\.csv:3: no registry_id/);
    await expect(readRegistryIds('/nonexistent/list.csv')).rejects.toThrow(/cannot read it \(ENOENT\)/);
  });
});
