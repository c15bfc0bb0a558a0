import type { Migration } from 'kysely/migration';
import * as foundation from './0001-foundation.ts';
import * as feeds from './0002-feeds.ts';
import * as ruleVersions from './0003-rule-versions.ts';
import * as activations from './0004-activations.ts';
import * as paymentLists from './0005-payment-lists.ts';
import * as apiKeys from './0006-api-keys.ts';
import * as footprintSelection from './0007-footprint-selection.ts';
import * as namedLists from './0008-named-lists.ts';
import * as forecastIssuesAndSeasons from './0009-forecast-issues-and-seasons.ts';
import * as keyExpiry from './0010-key-expiry.ts';
import * as runRunner from './0011-run-runner.ts';
import * as approvalHash from './0012-approval-hash.ts';
import * as auditAnchor from './0013-audit-anchor.ts';
import * as registryConnectors from './0014-registry-connectors.ts';
import * as disbursements from './0015-disbursements.ts';
import * as dciInbox from './0016-dci-inbox.ts';
import * as hubBatch from './0017-hub-batch.ts';
import * as dciSubscriptions from './0018-dci-subscriptions.ts';
import * as statementLevelListChecks from './0019-statement-level-list-checks.ts';
import * as regionPartitions from './0020-region-partitions.ts';
import * as entryParentsPerStatement from './0021-entry-parents-per-statement.ts';
import * as partitionsWrittenThroughParent from './0022-partitions-written-through-parent.ts';
import * as contentHashPerArea from './0023-content-hash-per-area.ts';
import * as householdsTruncatedUnderReadCommitted from './0024-households-truncated-under-read-committed.ts';

/**
 * Every migration, in order. Listed rather than discovered from the folder so that they load the
 * same under tsx, vitest and any bundler. Forward-only: never edit one that has shipped.
 */
export const migrations: Record<string, Migration> = {
  '0001-foundation': foundation,
  '0002-feeds': feeds,
  '0003-rule-versions': ruleVersions,
  '0004-activations': activations,
  '0005-payment-lists': paymentLists,
  '0006-api-keys': apiKeys,
  '0007-footprint-selection': footprintSelection,
  '0008-named-lists': namedLists,
  '0009-forecast-issues-and-seasons': forecastIssuesAndSeasons,
  '0010-key-expiry': keyExpiry,
  '0011-run-runner': runRunner,
  '0012-approval-hash': approvalHash,
  '0013-audit-anchor': auditAnchor,
  '0014-registry-connectors': registryConnectors,
  '0015-disbursements': disbursements,
  '0016-dci-inbox': dciInbox,
  '0017-hub-batch': hubBatch,
  '0018-dci-subscriptions': dciSubscriptions,
  '0019-statement-level-list-checks': statementLevelListChecks,
  '0020-region-partitions': regionPartitions,
  '0021-entry-parents-per-statement': entryParentsPerStatement,
  '0022-partitions-written-through-parent': partitionsWrittenThroughParent,
  '0023-content-hash-per-area': contentHashPerArea,
  '0024-households-truncated-under-read-committed': householdsTruncatedUnderReadCommitted,
};
