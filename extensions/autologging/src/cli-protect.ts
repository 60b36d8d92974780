import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import QRCode from 'qrcode';
import { Agent } from './agent.ts';
import { windowsDpapi } from './crypto/dpapi.ts';
import { FieldCipher } from './crypto/field-cipher.ts';
import { Keyring, recoveryExportedAt, wipeKeys } from './crypto/keyring.ts';
import { Secret } from './crypto/secret.ts';
import { UsageError } from './errors.ts';
import { createLogger, fileSink } from './log/logger.ts';
import { currentActor } from './protect/audit.ts';
import { decryptWorkbookFile, exportDecrypted } from './protect/decrypt-export.ts';
import { OtpGuard } from './protect/otp.ts';
import { secureHome } from './protect/permissions.ts';
import { reencryptJournal } from './protect/reencrypt.ts';
import { runCommand } from './platform/command.ts';
import { ensurePrivateDir } from './platform/files.ts';
import { homePaths } from './platform/paths.ts';
import { SecretVault } from './settings/secrets.ts';
import { parseDay } from './time.ts';

const out = (line = '') => process.stdout.write(line + '\n');

/** What the protection commands need from the main command line. */
export interface ProtectCliContext {
  /** The data folder the command works on. */
  home(): string;
  /** Sets the process's exit code (1 for a failed job). */
  setExitCode(code: number): void;
}

/** The line `autologging status` prints until a recovery export of the keys was made. */
export const RECOVERY_WARNING =
  'warning: no recovery export of the keys was made yet; losing this machine or its keyring ' +
  "loses the personal fields: run 'autologging keys export-recovery --out FILE'";

/**
 * Adds `keys`, `otp` and `xlsx` to the `autologging` command line, and the recovery warning
 * after `status`. The decrypt export is `runDecryptExport`, reached from `export --decrypt`.
 */
export function registerProtectCommands(program: Command, context: ProtectCliContext): void {
  const keys = program.command('keys').description('the keys that protect personal fields');
  keys
    .command('status')
    .description('protectors, key versions, recovery export, unfinished re-encryption')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      await withKeyring(context.home(), async (keyring) => {
        const status = keyring.status();
        if (options.json) {
          out(JSON.stringify(status, null, 2));
          return;
        }
        out(`keyring: ${status.file}`);
        out(`unlocked by: ${status.protectors.join(', ')}`);
        out(`data key versions: ${status.versions.map((v) => v.version).join(', ')}`);
        out(`new records use version ${status.current}`);
        out(`recovery export: ${status.recoveryExportedAt ?? 'never made'}`);
      });
    });
  keys
    .command('rotate')
    .description('new records get a new data key version; older records stay readable')
    .option('--reencrypt', 'then rewrite every stored value with the new version (resumable)')
    .option('--batch <n>', 'rows per transaction of the re-encryption', '500')
    .action(async (options: { reencrypt?: boolean; batch: string }) => {
      await withKeyring(context.home(), async (keyring) => {
        const version = keyring.rotate();
        out(`data key version ${version} is now used for new records (the index key stays).`);
        out('a running agent uses it from its next start.');
        if (options.reencrypt) reencrypt(context.home(), keyring, batchSize(options.batch));
      });
    });
  keys
    .command('reencrypt')
    .description('rewrite stored values with the current key version, resuming where it stopped')
    .option('--batch <n>', 'rows per transaction', '500')
    .action(async (options: { batch: string }) => {
      await withKeyring(context.home(), async (keyring) =>
        reencrypt(context.home(), keyring, batchSize(options.batch)),
      );
    });
  keys
    .command('export-recovery')
    .description('write every key to FILE, sealed by a recovery passphrase')
    .requiredOption('--out <file>', 'the recovery file to write')
    .option(
      '--passphrase-env <name>',
      'environment variable holding the recovery passphrase',
      'AUTOLOGGING_RECOVERY_PASSPHRASE',
    )
    .action(async (options: { out: string; passphraseEnv: string }) => {
      const passphrase = fromEnv(options.passphraseEnv, 'the recovery passphrase');
      await withKeyring(context.home(), async (keyring) => {
        keyring.exportRecovery(path.resolve(options.out), passphrase);
        out(`recovery export written to ${path.resolve(options.out)}`);
        out('keep it away from this machine; with its passphrase it opens every record.');
      });
    });
  keys
    .command('import-recovery <file>')
    .description('restore the keys into a data folder without keys from a recovery export')
    .option(
      '--passphrase-env <name>',
      'environment variable holding the recovery passphrase',
      'AUTOLOGGING_RECOVERY_PASSPHRASE',
    )
    .action(async (file: string, options: { passphraseEnv: string }) => {
      const passphrase = fromEnv(options.passphraseEnv, 'the recovery passphrase');
      const home = context.home();
      ensurePrivateDir(home);
      const keyring = await Keyring.importRecovery(
        unlockOptions(home),
        fs.readFileSync(file, 'utf8'),
        passphrase,
      );
      out(`keys restored into ${keyring.file} (${keyring.status().protectors.join(', ')})`);
      keyring.close();
    });

  const otp = program.command('otp').description('one-time codes guarding decryption (optional)');
  otp
    .command('status')
    .description('whether one-time codes are required')
    .action(async () => {
      await withGuard(context.home(), async (guard) => {
        const status = guard.status();
        out(`one-time codes: ${status.enabled ? 'on' : 'off'}`);
        if (!status.enabled) return;
        out(`recovery codes left: ${status.recoveryCodesLeft}`);
        if (status.lockedUntil) out(`locked until ${new Date(status.lockedUntil).toISOString()}`);
      });
    });
  otp
    .command('setup')
    .description('switch one-time codes on: prints a QR code and recovery codes, once')
    .option('--otp <code>', 'a current code, when one-time codes are on already')
    .action(async (options: { otp?: string }) => {
      await withGuard(context.home(), async (guard, actor) => {
        guard.verify(options.otp, { actor, purpose: 'otp setup' });
        const enrolment = guard.setup(actor);
        out('Scan this with an authenticator app, or type in the secret:');
        out(await QRCode.toString(enrolment.uri, { type: 'terminal', small: true }));
        out(enrolment.uri);
        out(`secret: ${enrolment.secret}`);
        out(
          'recovery codes (each works once; keep them somewhere safe, they are not shown again):',
        );
        for (const code of enrolment.recoveryCodes) out(`  ${code}`);
      });
    });
  otp
    .command('disable')
    .description('switch one-time codes off')
    .option('--otp <code>', 'a current code or a recovery code')
    .action(async (options: { otp?: string }) => {
      await withGuard(context.home(), async (guard, actor) => {
        guard.verify(options.otp, { actor, purpose: 'otp disable' });
        guard.disable();
        out('one-time codes are off.');
      });
    });

  const xlsx = program.command('xlsx').description('password-encrypted workbooks');
  xlsx
    .command('decrypt <file>')
    .description('write a decrypted copy of a password-encrypted workbook')
    .requiredOption('--out <file>', 'the decrypted copy to write')
    .option(
      '--password-env <name>',
      'environment variable holding the password (default: the Excel password)',
    )
    .action(async (file: string, options: { out: string; passwordEnv?: string }) => {
      const password = options.passwordEnv
        ? new Secret(Buffer.from(fromEnv(options.passwordEnv, 'the password'), 'utf8'))
        : await withAgent(context.home(), async (agent) => configuredPassword(agent));
      await decryptWorkbookFile(path.resolve(file), path.resolve(options.out), password);
      password.wipe();
      out(`decrypted copy written to ${path.resolve(options.out)}`);
    });

  program.commands
    .find((c) => c.name() === 'status')
    ?.hook('postAction', (command) => {
      if ((command.opts() as { json?: boolean }).json) return;
      const home = context.home();
      if (fs.existsSync(path.join(home, 'keyring.json')) && !recoveryExportedAt(home)) {
        out(RECOVERY_WARNING);
      }
    });
}

/** The options of `export --decrypt`. */
export interface DecryptExportOptions {
  from?: string;
  to?: string;
  date?: string;
  user?: string;
  out?: string;
  otp?: string;
  passwordEnv?: string;
}

/**
 * `autologging export --decrypt --from D --to D [--user NAME] --out FILE [--otp CODE]
 * [--password-env NAME]`: one password-encrypted workbook with personal fields readable,
 * audited. Throws `UsageError` for missing options, and what `exportDecrypted` throws.
 */
export async function runDecryptExport(home: string, options: DecryptExportOptions): Promise<void> {
  const from = options.from ?? options.date;
  const to = options.to ?? options.date;
  if (!from || !to || !parseDay(from) || !parseDay(to)) {
    throw new UsageError(
      'export --decrypt needs --from YYYY-MM-DD and --to YYYY-MM-DD (or --date)',
    );
  }
  if (from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
  if (!options.out) throw new UsageError('export --decrypt needs --out FILE');
  const file = path.resolve(options.out);

  await withAgent(home, async (agent, cipher) => {
    const password = options.passwordEnv
      ? new Secret(Buffer.from(fromEnv(options.passwordEnv, 'the workbook password'), 'utf8'))
      : configuredPassword(agent);
    const guard = OtpGuard.open(home, cipher, { audit: agent.journal });
    const written = await exportDecrypted({
      journal: agent.journal,
      cipher,
      from,
      to,
      timeZone: agent.timeZone,
      language: agent.settings.excel.language,
      user: options.user,
      out: file,
      password,
      actor: currentActor(),
      otp: guard,
      otpCode: options.otp,
    });
    password.wipe();
    out(
      `decrypted export ${from}..${to}: ${written.sessions} sessions, ${written.events} events ` +
        `-> ${written.file} (password-encrypted; this use is in the audit trail)`,
    );
  });
}

/** Options for `Keyring.unlock` from the environment: the passphrase, and DPAPI on Windows. */
function unlockOptions(home: string) {
  return {
    home,
    passphrase: process.env.AUTOLOGGING_PASSPHRASE,
    dpapi: windowsDpapi(runCommand),
  };
}

async function withKeyring(home: string, work: (keyring: Keyring) => Promise<void>) {
  ensurePrivateDir(home);
  const keyring = await Keyring.unlock(unlockOptions(home));
  try {
    await work(keyring);
  } finally {
    keyring.close();
  }
  await secureHome(home, { run: runCommand });
}

async function withAgent<T>(
  home: string,
  work: (agent: Agent, cipher: FieldCipher) => Promise<T>,
): Promise<T> {
  ensurePrivateDir(home);
  const keyring = await Keyring.unlock(unlockOptions(home));
  const keys = keyring.keys();
  keyring.close();
  const log = createLogger(fileSink(homePaths(home).logs), 'info', 'cli');
  const agent = Agent.open({ home, log, keys });
  try {
    return await work(agent, new FieldCipher(keys));
  } finally {
    agent.close();
    wipeKeys(keys);
  }
}

async function withGuard(home: string, work: (guard: OtpGuard, actor: string) => Promise<void>) {
  await withAgent(home, async (agent, cipher) => {
    await work(OtpGuard.open(home, cipher, { audit: agent.journal }), currentActor());
  });
}

function reencrypt(home: string, keyring: Keyring, batch: number): void {
  const keys = keyring.keys();
  const cipher = new FieldCipher(keys);
  try {
    const report = reencryptJournal(homePaths(home).journal, cipher, { batchSize: batch });
    // Secret settings are sealed with the data key too: seal them again with the new version.
    const vault = SecretVault.open(home, cipher);
    for (const name of vault.names()) vault.set(name, vault.get(name));
    vault.save();
    out(`re-encrypted ${report.rows} records; every value now uses version ${keys.version}.`);
  } finally {
    wipeKeys(keys);
  }
}

function configuredPassword(agent: Agent): Secret {
  const password = agent.settings.excel.password;
  if (!password) {
    throw new UsageError(
      'no Excel password is set (settings excel.password): give --password-env NAME',
    );
  }
  return new Secret(Buffer.from(password.reveal()));
}

function fromEnv(name: string, what: string): string {
  const value = process.env[name];
  if (!value) throw new UsageError(`set ${what} in the environment variable ${name}`);
  return value;
}

function batchSize(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) {
    throw new UsageError(`--batch ${JSON.stringify(text)} is not a whole number from 1 to 100000`);
  }
  return n;
}
