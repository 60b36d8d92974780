import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import ExcelJS from 'exceljs';
import officeCrypto from 'officecrypto-tool';
import * as OTPAuth from 'otpauth';
import { describe, expect, it } from 'vitest';
import { event, session } from '../../../../tests/support/records.ts';
import { tempDir } from '../../../../tests/support/temp.ts';
import { FieldCipher } from '../crypto/field-cipher.ts';
import { openKeyring } from '../crypto/keyring.ts';
import { Secret } from '../crypto/secret.ts';
import type { AuditEntry } from '../journal/journal.ts';
import { Journal } from '../journal/journal.ts';
import type { CommandRunner } from '../platform/command.ts';
import { decryptWorkbookFile, exportDecrypted } from './decrypt-export.ts';
import { OtpGuard } from './otp.ts';
import { secureHome } from './permissions.ts';

const cipher = new FieldCipher(openKeyring({ home: tempDir() }));

function guard(home: string, clock: { now: number }, audited: AuditEntry[] = []) {
  return OtpGuard.open(home, cipher, {
    audit: { audit: (e) => audited.push(e) },
    now: () => clock.now,
  });
}

function codeAt(secret: string, ms: number): string {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({
    timestamp: ms,
  });
}

describe('one-time codes', () => {
  it('is off by default and then asks for nothing', () => {
    const otp = guard(tempDir(), { now: Date.now() });
    expect(otp.enabled).toBe(false);
    expect(() => otp.verify(undefined, { actor: 'a', purpose: 'p' })).not.toThrow();
  });

  it('accepts a valid code once, and refuses a missing one', () => {
    const home = tempDir();
    const clock = { now: Date.UTC(2026, 11, 3, 9) };
    const enrolment = guard(home, clock).setup('CORP\\admin');
    expect(enrolment.uri).toMatch(/^otpauth:\/\/totp\/AutoLogging:/);
    const otp = guard(home, clock);
    const code = codeAt(enrolment.secret, clock.now);
    expect(() => otp.verify(code, { actor: 'a', purpose: 'p' })).not.toThrow();
    expect(() => otp.verify(code, { actor: 'a', purpose: 'p' })).toThrow(
      expect.objectContaining({ code: 'EOTP' }),
    );
    expect(() => otp.verify(undefined, { actor: 'a', purpose: 'p' })).toThrow(
      expect.objectContaining({ code: 'EOTPREQUIRED' }),
    );
    expect(fs.readFileSync(path.join(home, 'otp.json'), 'utf8')).not.toContain(enrolment.secret);
  });

  it('rate-limits wrong codes across restarts and audits each one', () => {
    const home = tempDir();
    const clock = { now: Date.UTC(2026, 11, 3, 9) };
    const audited: AuditEntry[] = [];
    const { secret } = guard(home, clock).setup('admin');
    for (let i = 0; i < 5; i++) {
      // A fresh guard each time: the count is kept in the file, not in memory.
      expect(() =>
        guard(home, clock, audited).verify('000000', { actor: 'eve', purpose: 'p' }),
      ).toThrow(expect.objectContaining({ code: 'EOTP' }));
    }
    const good = codeAt(secret, clock.now);
    expect(() => guard(home, clock, audited).verify(good, { actor: 'eve', purpose: 'p' })).toThrow(
      expect.objectContaining({ code: 'EOTPLOCKED' }),
    );
    expect(audited.map((a) => a.action)).toEqual([...Array(5).fill('otp-failed'), 'otp-locked']);
    expect(audited.every((a) => a.actor === 'eve')).toBe(true);

    clock.now += 5 * 60_000 + 1;
    const later = codeAt(secret, clock.now);
    expect(() =>
      guard(home, clock, audited).verify(later, { actor: 'a', purpose: 'p' }),
    ).not.toThrow();
  });

  it('takes a recovery code once', () => {
    const home = tempDir();
    const clock = { now: Date.now() };
    const { recoveryCodes } = guard(home, clock).setup('admin');
    expect(recoveryCodes).toHaveLength(10);
    const otp = guard(home, clock);
    otp.verify(recoveryCodes[3]!.toUpperCase(), { actor: 'a', purpose: 'p' });
    expect(otp.status().recoveryCodesLeft).toBe(9);
    expect(() => otp.verify(recoveryCodes[3]!, { actor: 'a', purpose: 'p' })).toThrow(
      expect.objectContaining({ code: 'EOTP' }),
    );
    expect(fs.readFileSync(path.join(home, 'otp.json'), 'utf8')).not.toContain(recoveryCodes[0]!);
  });
});

describe('decrypt export', () => {
  async function journalWithTwoUsers() {
    const home = tempDir();
    const file = path.join(home, 'journal.db');
    const journal = Journal.open(file, cipher);
    journal.applyCapture(
      'demo',
      [
        session({ key: 'a', user: 'minjun.kim' }),
        session({ key: 'b', user: 'seoyeon.lee', clientName: 'KR-LT-99999' }),
        event({ key: 'e', user: 'seoyeon.lee' }),
      ],
      null,
    );
    return { home, file, journal };
  }

  async function users(file: string, password: string) {
    const plain = await officeCrypto.decrypt(fs.readFileSync(file), { password });
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(plain as unknown as ArrayBuffer);
    const ws = workbook.getWorksheet('Sessions')!;
    const at = (ws.getRow(1).values as unknown[]).indexOf('User');
    return {
      users: ws.getColumn(at).values.slice(2),
      sheets: workbook.worksheets.map((w) => w.name),
    };
  }

  it('writes an encrypted, readable workbook of one user found by blind index, and audits it without the actor in plain text', async () => {
    const { home, file, journal } = await journalWithTwoUsers();
    const out = path.join(home, 'out', 'seoyeon.xlsx');
    const otp = guard(home, { now: Date.now() });
    const written = await exportDecrypted({
      journal,
      cipher,
      from: '2026-12-02',
      to: '2026-12-03',
      timeZone: 'Asia/Seoul',
      language: 'en',
      user: 'SeoYeon.Lee',
      out,
      password: new Secret(Buffer.from('export pw')),
      actor: 'CORP\\auditor.park',
      otp,
    });
    expect(written.sessions).toBe(1);
    expect(written.events).toBe(1);
    const read = await users(out, 'export pw');
    expect(read.users).toEqual(['seoyeon.lee']);
    expect(read.sheets).toEqual(['Sessions', 'Events', 'Host load']);

    journal.maintain();
    journal.close();
    const db = new DatabaseSync(file, { readOnly: true });
    const rows = db.prepare('SELECT * FROM audit').all();
    db.close();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'decrypt', subject: '2026-12-02..2026-12-03' });
    expect(String(rows[0]!.detail)).toContain(cipher.blindIndex('user', 'seoyeon.lee'));
    const bytes = Buffer.concat(
      [file, `${file}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)),
    );
    expect(bytes.includes(Buffer.from('auditor.park'))).toBe(false);
    expect(bytes.includes(Buffer.from('seoyeon'))).toBe(false);
  });

  it('refuses without a valid one-time code when OTP is on, and audits the wrong code', async () => {
    const { home, file, journal } = await journalWithTwoUsers();
    const clock = { now: Date.now() };
    const { secret } = guard(home, clock).setup('admin');
    const base = {
      journal,
      cipher,
      from: '2026-12-03',
      to: '2026-12-03',
      timeZone: 'Asia/Seoul',
      language: 'en' as const,
      out: path.join(home, 'x.xlsx'),
      password: new Secret(Buffer.from('pw')),
      actor: 'someone',
    };
    await expect(
      exportDecrypted({
        ...base,
        otp: OtpGuard.open(home, cipher, { audit: journal }),
        otpCode: '123456',
      }),
    ).rejects.toMatchObject({ code: 'EOTP' });
    expect(fs.existsSync(base.out)).toBe(false);
    await exportDecrypted({
      ...base,
      otp: OtpGuard.open(home, cipher, { audit: journal }),
      otpCode: codeAt(secret, Date.now()),
    });
    expect((await users(base.out, 'pw')).users.sort()).toEqual(['minjun.kim', 'seoyeon.lee']);
    journal.close();
    const db = new DatabaseSync(file, { readOnly: true });
    const actions = db
      .prepare('SELECT action FROM audit ORDER BY id')
      .all()
      .map((r) => r.action);
    db.close();
    expect(actions).toEqual(['otp-failed', 'decrypt']);
  });

  it('decrypts a protected workbook file with its password, and refuses a wrong one', async () => {
    const { home, journal } = await journalWithTwoUsers();
    const out = path.join(home, 'enc.xlsx');
    await exportDecrypted({
      journal,
      cipher,
      from: '2026-12-03',
      to: '2026-12-03',
      timeZone: 'Asia/Seoul',
      language: 'en',
      out,
      password: new Secret(Buffer.from('pw')),
      actor: 'someone',
      otp: guard(home, { now: Date.now() }),
    });
    journal.close();
    const plain = path.join(home, 'plain.xlsx');
    await expect(
      decryptWorkbookFile(out, plain, new Secret(Buffer.from('nope'))),
    ).rejects.toMatchObject({ code: 'EXLSXPASSWORD' });
    await decryptWorkbookFile(out, plain, new Secret(Buffer.from('pw')));
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(plain);
    expect(workbook.getWorksheet('Sessions')!.rowCount).toBe(3);
    await expect(
      decryptWorkbookFile(plain, path.join(home, 'again.xlsx'), new Secret(Buffer.from('pw'))),
    ).rejects.toMatchObject({ code: 'EXLSXPLAIN' });
  });
});

describe('owner-only files', () => {
  it('makes the folder 0700 and its files 0600 elsewhere than Windows', async () => {
    const home = tempDir();
    fs.mkdirSync(path.join(home, 'logs'), { mode: 0o755 });
    fs.writeFileSync(path.join(home, 'logs', 'a.log'), 'x', { mode: 0o644 });
    fs.writeFileSync(path.join(home, 'settings.json'), '{}', { mode: 0o644 });
    const run: CommandRunner = async () => {
      throw new Error('no icacls here');
    };
    await secureHome(home, { platform: 'linux', run });
    expect(fs.statSync(path.join(home, 'logs')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(home, 'logs', 'a.log')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(home, 'settings.json')).mode & 0o777).toBe(0o600);
  });

  it('on Windows grants only SYSTEM, Administrators and the agent account through icacls', async () => {
    const calls: string[][] = [];
    const run: CommandRunner = async (file, args) => {
      calls.push([file, ...args]);
      return { stdout: 'Successfully processed 1 files', stderr: '', exitCode: 0 };
    };
    const home = 'C:\\ProgramData\\AutoLogging';
    await secureHome(home, { platform: 'win32', run, account: 'CORP\\svc-autolog' });
    expect(calls).toEqual([
      [
        'icacls.exe',
        home,
        '/inheritance:r',
        '/grant:r',
        '*S-1-5-18:(OI)(CI)F',
        '*S-1-5-32-544:(OI)(CI)F',
        'CORP\\svc-autolog:(OI)(CI)F',
        '/Q',
      ],
      ['icacls.exe', 'C:\\ProgramData\\AutoLogging\\*', '/reset', '/T', '/C', '/Q'],
    ]);
  });

  it('reports a failing icacls with EPERMISSIONS', async () => {
    const run: CommandRunner = async () => ({
      stdout: '',
      stderr: 'C:\\x: Access is denied.\r\nSuccessfully processed 0 files',
      exitCode: 5,
    });
    await expect(
      secureHome('C:\\x', { platform: 'win32', run, account: 'u' }),
    ).rejects.toMatchObject({ code: 'EPERMISSIONS' });
  });
});
