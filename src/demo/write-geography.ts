import { mkdirSync, writeFileSync } from 'node:fs';
import { demoDistricts, demoRegions } from './geography.ts';

// Writes the demo geography files shipped in data/demo/ (run: npm run demo:geography).
mkdirSync('data/demo', { recursive: true });
writeFileSync('data/demo/demoland-adm1.geojson', JSON.stringify(demoRegions(), null, 1) + '\n');
writeFileSync('data/demo/demoland-adm2.geojson', JSON.stringify(demoDistricts(), null, 1) + '\n');
