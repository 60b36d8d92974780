import fs from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import officeCrypto from 'officecrypto-tool';
import { describe, expect, it } from 'vitest';
import { DemoSite } from '../extensions/autologging/src/sources/demo/generator.ts';
import { demoSource } from '../extensions/autologging/src/sources/demo/index.ts';
import { cli } from './support/cli.ts';
import { demoSettings, homeWith } from './support/home.ts';
import { tempDir } from './support/temp.ts';

// End to end: the built command's key, Excel-password and decrypt features on real folders.

const WINDOW = ['--since', '2026-12-01T00:00:00+09:00', '--until', '2026-12-03T00:00:00+09:00'];

function demoPersonalValues(): string[] {
  const site = new DemoSite(demoSource.options.parse({}), 'Asia/Seoul');
  return site.users.flatMap((u) => [u.account, u.fullName, u.clientName, u.clientAddress]);
}

function filesOf(home: string): string[] {
  return fs
    .readdirSync(home, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

async function sessionUsers(bytes: Buffer): Promise<string[]> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
  const ws = workbook.getWorksheet('Sessions')!;
  const at = (ws.getRow(1).values as unknown[]).indexOf('User');
  return ws.getColumn(at).values.slice(2).map(String);
}

describe('protection of recorded data', () => {
  it('leaves no personal value in journal, WAL, logs or default workbooks, and no password in plain text anywhere', async () => {
    const home = homeWith({ ...demoSettings(), excel: { language: 'en' } });
    const env = { AUTOLOGGING_PASSPHRASE: 'agent passphrase 7d1c', XLPW: 'decrypt pw 93ab' };
    expect(cli(['--home', home, 'capture', '--source', 'demo', ...WINDOW], env).code).toBe(0);
    expect(cli(['--home', home, 'export', '--date', '2026-12-02'], env).code).toBe(0);
    const out = path.join(tempDir(), 'decrypted.xlsx');
    const decrypt = cli(
      [
        '--home',
        home,
        'export',
        '--decrypt',
        '--date',
        '2026-12-02',
        '--password-env',
        'XLPW',
        '--out',
        out,
      ],
      env,
    );
    expect(decrypt.code).toBe(0);
    expect(decrypt.stdout).toContain('audit trail');

    // A password typed into settings.json by hand moves into the vault at the next start.
    const settingsFile = path.join(home, 'settings.json');
    const settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
    settings.excel.password = 'excel pw 5f2e';
    fs.writeFileSync(settingsFile, JSON.stringify(settings));
    expect(cli(['--home', home, 'status'], env).code).toBe(0);
    expect(cli(['--home', home, 'capture', '--source', 'demo', ...WINDOW], env).code).toBe(0);

    const values = demoPersonalValues();
    const bytes = Buffer.concat(filesOf(home).map((f) => fs.readFileSync(f)));
    const found = values.filter((v) => bytes.includes(Buffer.from(v, 'utf8')));
    expect(found).toEqual([]);
    for (const secret of Object.values(env)) {
      expect(bytes.includes(Buffer.from(secret, 'utf8'))).toBe(false);
    }
    expect(fs.readFileSync(settingsFile, 'utf8')).toContain('"$secret": "excel.password"');

    // The decrypted workbook is encrypted to open, and holds readable users.
    const users = await sessionUsers(
      await officeCrypto.decrypt(fs.readFileSync(out), { password: env.XLPW }),
    );
    expect(users.length).toBeGreaterThan(0);
    expect(users.every((u) => values.includes(u))).toBe(true);
  });

  it('warns in status until a recovery export, whose import on a fresh home opens the old journal', async () => {
    const home = homeWith({ ...demoSettings(), excel: { language: 'en' } });
    expect(cli(['--home', home, 'capture', '--source', 'demo', ...WINDOW]).code).toBe(0);
    expect(cli(['--home', home, 'status']).stdout).toContain('no recovery export');
    expect(cli(['--home', home, 'keys', 'export-recovery', '--out', 'x']).code).toBe(2);

    const recovery = path.join(tempDir(), 'recovery.json');
    const env = { AUTOLOGGING_RECOVERY_PASSPHRASE: 'recovery passphrase 1' };
    const exported = cli(['--home', home, 'keys', 'export-recovery', '--out', recovery], env);
    expect(exported.code).toBe(0);
    expect(cli(['--home', home, 'status']).stdout).not.toContain('no recovery export');
    expect(cli(['--home', home, 'keys', 'rotate']).code).toBe(0);

    const fresh = tempDir('autologging-fresh-');
    for (const f of ['settings.json', 'journal.db', 'journal.db-wal']) {
      if (fs.existsSync(path.join(home, f)))
        fs.copyFileSync(path.join(home, f), path.join(fresh, f));
    }
    const imported = cli(
      ['--home', fresh, 'keys', 'import-recovery', recovery, '--passphrase-env', 'RP'],
      { RP: env.AUTOLOGGING_RECOVERY_PASSPHRASE },
    );
    expect(imported.code).toBe(0);
    const out = path.join(fresh, 'check.xlsx');
    const decrypt = cli(
      [
        '--home',
        fresh,
        'export',
        '--decrypt',
        '--date',
        '2026-12-02',
        '--out',
        out,
        '--password-env',
        'PW',
      ],
      { PW: 'pw' },
    );
    expect(decrypt.stderr).toBe('');
    expect(decrypt.code).toBe(0);
    const users = await sessionUsers(
      await officeCrypto.decrypt(fs.readFileSync(out), { password: 'pw' }),
    );
    expect(users.length).toBeGreaterThan(0);
    expect(users.every((u) => demoPersonalValues().includes(u))).toBe(true);
  });
});
