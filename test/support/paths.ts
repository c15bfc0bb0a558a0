import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
/** The shared reference data beside the project (read in place, never copied). */
export const sharedData = path.resolve(projectRoot, '../shared/data');
export const kenyaAdm1 = path.join(sharedData, 'boundaries/ken_cod-ab_adm1_counties_ibf.json');
export const kenyaAdm2 = path.join(sharedData, 'boundaries/ken_cod-ab_adm2_subcounties_ibf.json');
