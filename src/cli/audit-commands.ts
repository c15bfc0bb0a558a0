import type { Command } from 'commander';
import { grantAppRole } from '../audit/app-role.ts';
import { createCheckpoint, readCheckpoint, writeCheckpoint } from '../audit/checkpoint.ts';
import { auditKeyFile, generateAuditKey, loadAuditKey, publicKeyPem, type AuditKey } from '../audit/signing-key.ts';
import { listAudit, verifyAudit, type AuditRow, type AuditVerification } from '../audit/verify.ts';
import { loadConfig } from '../config.ts';
import { UserError } from '../errors.ts';
import { type GlobalOptions, globals, wholeNumber, withStore } from './context.ts';
import { report } from './output.ts';

const describeEntry = (e: AuditRow) => `#${e.id}  ${e.at}  ${e.actor}  ${e.action}  ${e.subject}  ${JSON.stringify(e.details)}`;

/** The verification as lines: the verdict first, then the signatures and the checkpoint. */
export function describeVerification(v: AuditVerification): string[] {
  const verdict = v.firstBroken
    ? `audit log BROKEN at row ${v.firstBroken.id}: ${v.firstBroken.reason} (${v.rows} row(s) read)`
    : v.checkpoint && !v.checkpoint.ok
      ? `audit log BROKEN against the checkpoint: ${v.checkpoint.problem} (${v.rows} row(s) read)`
      : `audit log intact: ${v.rows} row(s), last hash ${v.lastHash}`;
  const s = v.signatures;
  const signatures = s.key
    ? `  signatures: ${s.signed} row(s) signed, checked with key ${s.key}` +
      (s.unsigned ? `; ${s.unsigned} row(s) unsigned, written before the deployment had a key` : '')
    : `  signatures: not checked, no deployment key (${s.signed} row(s) signed, ${s.unsigned} unsigned)`;
  const lines = [verdict, signatures];
  const c = v.checkpoint;
  if (c) {
    lines.push(
      c.ok
        ? `  checkpoint of ${c.at} (key ${c.key}): row ${c.lastId} and the ${c.rows} row(s) up to it match`
        : `  checkpoint of ${c.at} (key ${c.key}): DOES NOT MATCH: ${c.problem}`,
    );
  }
  return lines;
}

/** The deployment key, or a UserError saying how to make one. */
async function requireKey(g: GlobalOptions): Promise<{ key: AuditKey; file: string }> {
  const file = auditKeyFile(loadConfig(), g.dataDir);
  const key = await loadAuditKey(file, { required: true });
  return { key: key!, file };
}

/** `asp audit verify | list | keygen | public-key | checkpoint`. */
export function registerAuditCommands(program: Command): void {
  const auditGroup = program.command('audit').description('the append-only, hash-chained, signed log of every act on money');
  auditGroup
    .command('verify')
    .description('recompute the hash chain and check the signatures (and a checkpoint); exit 1 naming the first broken row')
    .option('--checkpoint <file>', 'a checkpoint written by `asp audit checkpoint`: finds a cut tail or a recomputed chain')
    .action(async (opts, cmd: Command) => {
      const g = globals(cmd);
      // Read before the database is opened: a bad file is the user's mistake (exit 2).
      const checkpoint = opts.checkpoint ? await readCheckpoint(opts.checkpoint) : undefined;
      await withStore(g, async (store) => {
        const result = await verifyAudit(store, { checkpoint });
        report(g.json, result, () => describeVerification(result));
        // Not the user's input at fault but the data: exit 1, not 2.
        if (!result.ok) process.exitCode = 1;
      });
    });
  auditGroup
    .command('list')
    .description('audit entries, newest first')
    .option('--subject <subject>', 'only this subject, e.g. list:12')
    .option('--limit <n>', 'how many', wholeNumber('--limit'), 50)
    .action(async (opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const entries = await listAudit(store, { subject: opts.subject, limit: opts.limit });
        report(g.json, entries, () => (entries.length ? entries.map(describeEntry) : ['no audit entries']));
      });
    });
  auditGroup
    .command('keygen')
    .description('create the deployment audit key (ed25519, file mode 0600) at ASP_AUDIT_KEY_FILE or DATA_DIR/audit-key.pem; never replaces one')
    .option('--out <file>', 'write the key here instead (then set ASP_AUDIT_KEY_FILE to it)')
    .action(async (opts, cmd: Command) => {
      const g = globals(cmd);
      const file: string = opts.out ?? auditKeyFile(loadConfig(), g.dataDir);
      const key = await generateAuditKey(file);
      const publicKey = publicKeyPem(key);
      report(g.json, { file, key: key.fingerprint, publicKey }, () => [
        `audit key ${key.fingerprint} written to ${file} (mode 0600); audit rows are signed from the next start of each process`,
        'its public key, to keep with the checkpoints:',
        publicKey.trimEnd(),
      ]);
    });
  auditGroup
    .command('public-key')
    .description("print the deployment audit key's public half (PEM)")
    .action(async (_opts, cmd: Command) => {
      const g = globals(cmd);
      const { key } = await requireKey(g);
      report(g.json, { key: key.fingerprint, publicKey: publicKeyPem(key) }, () => [publicKeyPem(key).trimEnd()]);
    });
  auditGroup
    .command('checkpoint')
    .description("sign the log's head (last row, its hash, the row count) with the deployment key; keep the file away from this machine")
    .option('--out <file>', 'write the checkpoint here (mode 0600) instead of printing it')
    .action(async (opts, cmd: Command) => {
      const g = globals(cmd);
      const { key, file } = await requireKey(g).catch((error: unknown) => {
        throw error instanceof UserError ? new UserError(`a checkpoint is signed with the deployment key: ${error.message}`) : error;
      });
      await withStore(g, async (store) => {
        const { verification, checkpoint } = await createCheckpoint(store, key);
        if (!checkpoint) {
          report(g.json, verification, () => [...describeVerification(verification), 'no checkpoint written: it would anchor a broken log']);
          process.exitCode = 1;
          return;
        }
        if (!opts.out) {
          process.stdout.write(JSON.stringify(checkpoint, null, 2) + '\n');
          return;
        }
        await writeCheckpoint(opts.out, checkpoint);
        report(g.json, { file: opts.out, ...checkpoint }, () => [
          `checkpoint written to ${opts.out}: ${checkpoint.rows} row(s) up to row ${checkpoint.lastId}, signed with key ${key.fingerprint} (${file})`,
          'keep it away from this machine and its database; verify with `asp audit verify --checkpoint FILE`',
        ]);
      });
    });
}

/** `asp db grant-app-role NAME`. */
export function registerDbCommands(program: Command): void {
  const dbGroup = program.command('db').description('database set-up for operators');
  dbGroup
    .command('grant-app-role')
    .argument('<role>', 'an existing PostgreSQL role, not the owner, not a superuser')
    .description('give the role the app runs as what the engine needs, and on the audit log and other append-only tables only SELECT and INSERT; run as the owner, again after each migrate')
    .action(async (role: string, _opts, cmd: Command) => {
      const g = globals(cmd);
      await withStore(g, async (store) => {
        const grant = await grantAppRole(store, role);
        report(g.json, grant, () => [
          `${grant.role} may read and write the engine's tables, and only read and append to: ${grant.appendOnly.join(', ')}`,
        ]);
      });
    });
}
