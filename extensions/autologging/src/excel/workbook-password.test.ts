import fs from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import officeCrypto from 'officecrypto-tool';
import { describe, expect, it } from 'vitest';
import { event, session } from '../../../../tests/support/records.ts';
import { tempDir } from '../../../../tests/support/temp.ts';
import { FieldCipher } from '../crypto/field-cipher.ts';
import { openKeyring } from '../crypto/keyring.ts';
import { Secret } from '../crypto/secret.ts';
import { Journal } from '../journal/journal.ts';
import { dayRange } from '../time.ts';
import { writeDailyWorkbook } from './workbook.ts';

const DAY = '2026-12-03';

async function exportWith(password: string | undefined) {
  const home = tempDir();
  const journal = Journal.open(
    path.join(home, 'journal.db'),
    new FieldCipher(openKeyring({ home })),
  );
  journal.applyCapture('demo', [session(), event()], null);
  const range = dayRange(DAY, 'Asia/Seoul');
  const display = password ? 'plain' : 'pseudonym';
  const file = path.join(home, 'exports', `${DAY}.xlsx`);
  const result = await writeDailyWorkbook({
    file,
    day: DAY,
    timeZone: 'Asia/Seoul',
    language: 'en',
    sessions: journal.sessions(range, display),
    events: journal.events(range, display),
    hostLoad: journal.hostLoad(range),
    password: password === undefined ? undefined : new Secret(Buffer.from(password, 'utf8')),
  });
  journal.close();
  return { file, result, folder: path.dirname(file) };
}

async function usersIn(buffer: Buffer): Promise<unknown[]> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(buffer as unknown as ArrayBuffer);
  const ws = workbook.getWorksheet('Sessions')!;
  const header = (ws.getRow(1).values as unknown[]).map(String);
  const at = header.indexOf('User');
  return ws.getColumn(at).values.slice(2);
}

describe('password-protected workbook', () => {
  it('opens with the password and shows personal values in plain text', async () => {
    const { file, result, folder } = await exportWith('엑셀 암호 2026!');
    const bytes = fs.readFileSync(file);
    expect(officeCrypto.isEncrypted(bytes)).toBe(true);
    expect(result.bytes).toBe(bytes.length);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(bytes.includes(Buffer.from('minjun.kim'))).toBe(false);
    expect(fs.readdirSync(folder).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const plain = await officeCrypto.decrypt(bytes, { password: '엑셀 암호 2026!' });
    expect(await usersIn(plain)).toEqual(['minjun.kim']);
  });

  it('does not open without the password, nor with a wrong one', async () => {
    const { file } = await exportWith('correct horse');
    const bytes = fs.readFileSync(file);
    await expect(usersIn(bytes)).rejects.toThrow();
    await expect(officeCrypto.decrypt(bytes, { password: 'wrong horse' })).rejects.toThrow();
  });

  it('stays unencrypted, with pseudonyms, when no password is set', async () => {
    const { file } = await exportWith(undefined);
    const bytes = fs.readFileSync(file);
    expect(officeCrypto.isEncrypted(bytes)).toBe(false);
    expect(await usersIn(bytes)).toEqual([expect.stringMatching(/^U-[0-9A-F]{8}$/)]);
  });
});
