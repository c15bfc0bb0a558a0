import { describeOracleProperty } from './property.ts';
import { areaScenarioArb } from './scenario.ts';

/**
 * Area (indicator) rules: generated registries, VCI values and rules go through the engine's real
 * path (ingest, store and approve, evaluate, generate) and must give the oracle's list: the same
 * activations and tiers, households, amounts, ranks and left-out counts per reason.
 */
describeOracleProperty('area', areaScenarioArb);
