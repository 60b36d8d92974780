import fs from 'node:fs';
import path from 'node:path';
import QRCode from 'qrcode';
import { z } from 'zod';
import { readKeyringStatus, type Keyring } from '../crypto/keyring.ts';
import { Secret } from '../crypto/secret.ts';
import { AutoLoggingError } from '../errors.ts';
import { ensurePrivateDir } from '../platform/files.ts';
import { currentActor } from '../protect/audit.ts';
import { exportDecrypted } from '../protect/decrypt-export.ts';
import { OtpGuard } from '../protect/otp.ts';
import { parseDay } from '../time.ts';
import type { MethodContext } from './methods.ts';

/** How long `otp.unlock` opens a connection for: 30 minutes, or until it closes. */
export const OTP_UNLOCK_MS = 30 * 60_000;

/** What one WebSocket connection remembers: until when its OTP unlock holds (epoch ms). */
export interface ConnectionState {
  otpUnlockedUntil: number;
}

/** The OTP guard of the agent's data folder, auditing into its journal. */
export function otpGuard(context: MethodContext): OtpGuard {
  const { agent } = context;
  return OtpGuard.open(agent.paths.home, agent.cipher, {
    audit: agent.journal,
    ...(context.now ? { now: context.now } : {}),
  });
}

/**
 * Throws `EOTPREQUIRED` when one-time codes are on and this connection was not unlocked by
 * `otp.unlock` within `OTP_UNLOCK_MS`.
 */
export function requireUnlocked(context: MethodContext): void {
  const now = (context.now ?? Date.now)();
  if (context.connection.otpUnlockedUntil > now) return;
  if (!otpGuard(context).enabled) return;
  throw new AutoLoggingError(
    'EOTPREQUIRED',
    'one-time codes are on: unlock this connection with otp.unlock first',
  );
}

const code = z.string().min(1).max(32);
const day = z.string().refine((d) => parseDay(d) !== null, 'must be a day YYYY-MM-DD');

/** `keys.status`: protectors, key versions, the current one, and the recovery export state. */
export function keysStatus(context: MethodContext) {
  const home = context.agent.paths.home;
  const status = readKeyringStatus(home);
  return {
    keyring: status !== null,
    protector: status?.protectors[0] ?? null,
    protectors: status?.protectors ?? [],
    current: status?.current ?? null,
    versions: status?.versions ?? [],
    recoveryExported: !!status?.recoveryExportedAt,
    recoveryExportedAt: status?.recoveryExportedAt ?? null,
    keyFile: fs.existsSync(path.join(home, 'keyring.secret')),
    secrets: fs.existsSync(path.join(home, 'secrets.json')),
  };
}

/** Parameters of `keys.exportRecovery`. */
export const exportRecoveryParams = z
  .object({ passphrase: z.string().max(1024), path: z.string().min(1).max(4096).optional() })
  .strict();

/**
 * `keys.exportRecovery`: writes every key, sealed by `passphrase`, to `path` (absolute) or to a
 * new file in the data folder's `recovery/`. Audited; the passphrase is never logged. Throws
 * `EPATH` for a relative path, `ERECOVERY` for a passphrase under 8 characters.
 */
export async function exportRecovery(
  params: z.infer<typeof exportRecoveryParams>,
  context: MethodContext,
) {
  const { agent } = context;
  if (params.path !== undefined && !path.isAbsolute(params.path)) {
    throw new AutoLoggingError('EPATH', 'the recovery file path must be absolute');
  }
  const now = (context.now ?? Date.now)();
  const folder = path.join(agent.paths.home, 'recovery');
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  const file = params.path ?? path.join(folder, `recovery-${stamp}.json`);
  if (params.path === undefined) ensurePrivateDir(folder);

  const keyring = await context.unlockKeyring();
  try {
    keyring.exportRecovery(file, params.passphrase);
  } finally {
    keyring.close();
  }
  agent.journal.audit({
    action: 'recovery-export',
    actor: currentActor(),
    subject: 'keys',
    detail: null,
  });
  context.log.info('recovery export written from the window');
  return { file, recoveryExportedAt: readKeyringStatus(agent.paths.home)?.recoveryExportedAt };
}

/** `otp.status`: the guard's status, and whether this connection is unlocked. */
export function otpStatus(context: MethodContext) {
  const now = (context.now ?? Date.now)();
  const until = context.connection.otpUnlockedUntil;
  return { ...otpGuard(context).status(), unlockedUntil: until > now ? until : null };
}

/** Parameters of `otp.setup`, `otp.unlock` and `otp.disable`. */
export const setupParams = z.object({ code: code.optional() }).strict().optional();
export const codeParams = z.object({ code }).strict();

/**
 * `otp.setup`: switches one-time codes on (a current code is needed when they are on
 * already) and returns, once, the otpauth URI, its QR code as SVG, the secret and the
 * recovery codes. The window then confirms a first code with `otp.unlock`.
 */
export async function otpSetup(params: z.infer<typeof setupParams>, context: MethodContext) {
  const guard = otpGuard(context);
  const actor = currentActor();
  guard.verify(params?.code, { actor, purpose: 'otp setup' });
  const enrolment = guard.setup(actor);
  context.connection.otpUnlockedUntil = 0;
  context.log.info('one-time codes switched on from the window');
  return { ...enrolment, qrSvg: await QRCode.toString(enrolment.uri, { type: 'svg', margin: 1 }) };
}

/**
 * `otp.unlock`: checks `code` as the CLI does (rate-limited, wrong ones audited) and opens
 * this connection for `OTP_UNLOCK_MS`. Throws `EOTP`, `EOTPLOCKED`.
 */
export function otpUnlock(params: z.infer<typeof codeParams>, context: MethodContext) {
  const guard = otpGuard(context);
  guard.verify(params.code, { actor: currentActor(), purpose: 'window unlock' });
  const until = (context.now ?? Date.now)() + OTP_UNLOCK_MS;
  context.connection.otpUnlockedUntil = until;
  return { unlockedUntil: until };
}

/** `otp.disable`: checks `code`, then switches one-time codes off. */
export function otpDisable(params: z.infer<typeof codeParams>, context: MethodContext) {
  const guard = otpGuard(context);
  guard.verify(params.code, { actor: currentActor(), purpose: 'otp disable' });
  guard.disable();
  context.log.info('one-time codes switched off from the window');
  return guard.status();
}

/** Parameters of `decrypt.export`. */
export const decryptParams = z
  .object({
    from: day,
    to: day,
    user: z.string().min(1).max(256).optional(),
    out: z.string().min(1).max(4096),
    password: z.string().min(1).max(1024).optional(),
    otp: code.optional(),
  })
  .strict();

/**
 * `decrypt.export`: the audited decrypt export of `from`..`to` (optionally one user) into one
 * password-encrypted workbook at `out` (absolute, or relative to the Excel folder). The
 * password defaults to the Excel password. Throws `ERANGE`, `ENOPASSWORD`, and what
 * `exportDecrypted` throws (`EOTP`, `EOTPREQUIRED`, `EOTPLOCKED`, …).
 */
export async function decryptExport(params: z.infer<typeof decryptParams>, context: MethodContext) {
  const { agent } = context;
  if (params.from > params.to) {
    throw new AutoLoggingError('ERANGE', `from ${params.from} is after to ${params.to}`);
  }
  const configured = agent.settings.excel.password;
  if (!params.password && !configured) {
    throw new AutoLoggingError(
      'ENOPASSWORD',
      'a decrypted export is always password-encrypted: give a workbook password',
    );
  }
  const password = new Secret(
    params.password ? Buffer.from(params.password, 'utf8') : Buffer.from(configured!.reveal()),
  );
  try {
    const written = await exportDecrypted({
      journal: agent.journal,
      cipher: agent.cipher,
      from: params.from,
      to: params.to,
      timeZone: agent.timeZone,
      language: agent.settings.excel.language,
      user: params.user,
      out: path.resolve(agent.exportsFolder, params.out),
      password,
      actor: currentActor(),
      otp: otpGuard(context),
      otpCode: params.otp,
      ...(context.now ? { now: context.now } : {}),
    });
    context.log.info('decrypted export written from the window', {
      from: params.from,
      to: params.to,
    });
    return { file: written.file, sessions: written.sessions, events: written.events };
  } finally {
    password.wipe();
  }
}

/** Opens the keyring of the agent's data folder; the caller closes it. */
export type KeyringOpener = () => Promise<Keyring>;
