import { describeOracleProperty } from './property.ts';
import { footprintScenarioArb } from './scenario.ts';

/**
 * Footprint (event) rules, with the target semantics of issue 10: generated GDACS footprints
 * (rectangles, polygons with holes, triangles, multipolygons, zero-area polygons, points, lines;
 * classes the rule selects and others) and registries with points on the footprints' vertices and
 * edges go through the engine's real path (ingest, store and approve, evaluate, generate) and must
 * give the oracle's activations and list. A case the engine got wrong stays in regressions.test.ts.
 */
describeOracleProperty('footprint', footprintScenarioArb);
