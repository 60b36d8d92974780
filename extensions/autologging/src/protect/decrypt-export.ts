import fs from 'node:fs';
import officeCrypto from 'officecrypto-tool';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import type { Secret } from '../crypto/secret.ts';
import { ExportError } from '../errors.ts';
import { writeDailyWorkbook, type DailyWorkbookResult } from '../excel/workbook.ts';
import type { Language } from '../excel/labels.ts';
import type { Display, Range } from '../journal/journal.ts';
import type { EventRow, HostLoadRow, SessionRow } from '../journal/rows.ts';
import { writeFileAtomic } from '../platform/files.ts';
import { dayRange } from '../time.ts';
import type { AuditLog } from './audit.ts';
import type { OtpGuard } from './otp.ts';

/** What a decrypt export reads: `Journal` is one. */
export interface DecryptSource extends AuditLog {
  sessions(range: Range, display: Display): Iterable<SessionRow>;
  events(range: Range, display: Display): Iterable<EventRow>;
  hostLoad(range: Range): Iterable<HostLoadRow>;
}

/** What `exportDecrypted` needs. */
export interface DecryptExportInput {
  journal: DecryptSource;
  cipher: FieldCipher;
  /** First and last day, `YYYY-MM-DD`, both included, in `timeZone`. */
  from: string;
  to: string;
  timeZone: string;
  language: Language;
  /** Only this user's sessions and events (matched by blind index, as the journal keys it). */
  user?: string | undefined;
  /** The workbook to write. */
  out: string;
  /** The password the workbook is encrypted to open with: always one. */
  password: Secret;
  /** Who asks (the OS account): audited, encrypted. */
  actor: string;
  /** The OTP guard; its code is checked first when OTP is on. */
  otp: OtpGuard;
  otpCode?: string | undefined;
  now?: () => number;
}

/**
 * Writes one password-encrypted workbook of the days `from`..`to` with personal fields in
 * plain text, optionally only of one user. Checks the one-time code first (when OTP is on),
 * then writes an audit entry (`decrypt`: who, the range, the filter as its blind index)
 * before anything is decrypted, so that every use is on record, finished or not.
 *
 * Throws `CryptoError` (`EOTP`, `EOTPLOCKED`, `EOTPREQUIRED`, `ECIPHERTEXT`), `ExportError`.
 */
export async function exportDecrypted(input: DecryptExportInput): Promise<DailyWorkbookResult> {
  input.otp.verify(input.otpCode, { actor: input.actor, purpose: 'decrypt export' });
  const range = {
    start: dayRange(input.from, input.timeZone).start,
    end: dayRange(input.to, input.timeZone).end,
  };
  const userIndex = input.user ? input.cipher.blindIndex('user', input.user) : null;
  input.journal.audit({
    action: 'decrypt',
    actor: input.actor,
    subject: `${input.from}..${input.to}`,
    // Not the output path: people name such files after the person they are about.
    detail: JSON.stringify({ user: userIndex }),
  });

  // The rows carry no blind index, so the filter recomputes it from the decrypted value: the
  // same normalisation as the journal's, so it matches exactly what a search by index would.
  const byUser = <Row extends { user: string | null }>(rows: Iterable<Row>) =>
    userIndex === null
      ? rows
      : filter(
          rows,
          (r) => r.user !== null && input.cipher.blindIndex('user', r.user) === userIndex,
        );

  return writeDailyWorkbook({
    file: input.out,
    day: input.from,
    lastDay: input.to,
    timeZone: input.timeZone,
    language: input.language,
    sessions: byUser(input.journal.sessions(range, 'plain')),
    events: byUser(input.journal.events(range, 'plain')),
    hostLoad: userIndex === null ? input.journal.hostLoad(range) : [],
    generatedAt: (input.now ?? Date.now)(),
    password: input.password,
  });
}

/**
 * Writes a decrypted copy of the password-encrypted workbook `file` to `out` (owner-only).
 * Throws `ExportError`: `EXLSXPLAIN` when `file` is not encrypted, `EXLSXPASSWORD` when the
 * password does not open it.
 */
export async function decryptWorkbookFile(
  file: string,
  out: string,
  password: Secret,
): Promise<void> {
  const bytes = fs.readFileSync(file);
  if (!officeCrypto.isEncrypted(bytes)) {
    throw new ExportError('EXLSXPLAIN', `${file} is not password-encrypted`);
  }
  let plain: Buffer;
  try {
    plain = await officeCrypto.decrypt(bytes, { password: password.reveal().toString('utf8') });
  } catch (error) {
    throw new ExportError('EXLSXPASSWORD', `the password does not open ${file}`, { cause: error });
  }
  writeFileAtomic(out, plain);
}

function* filter<T>(rows: Iterable<T>, keep: (row: T) => boolean): Generator<T> {
  for (const row of rows) if (keep(row)) yield row;
}
