import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { demoSource } from '../extensions/autologging/src/sources/demo/index.ts';
import { DemoSite } from '../extensions/autologging/src/sources/demo/generator.ts';
import { dayOf, dayRange } from '../extensions/autologging/src/time.ts';
import { cli, eventually, startCli } from './support/cli.ts';
import { demoSettings, homeWith } from './support/home.ts';
import { tempDir } from './support/temp.ts';

// End to end: the built `autologging` command, spawned as a user runs it, on a real data folder.

function status(home: string) {
  const r = cli(['--home', home, 'status', '--json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as {
    agent: { running: boolean };
    records: { sessions: number; events: number; hostLoad: number };
    jobs: Array<{ job: string; last: { outcome: string } | null; next: string | null }>;
  };
}

/** Every personal value the demo site with these options could produce. */
function demoPersonalValues(options: Record<string, unknown> = {}): string[] {
  const site = new DemoSite(demoSource.options.parse(options), 'Asia/Seoul');
  return site.users.flatMap((u) => [u.account, u.fullName, u.clientName, u.clientAddress]);
}

async function readSheet(file: string, sheet: string) {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.readFile(file);
  const ws = workbook.getWorksheet(sheet)!;
  const header = (ws.getRow(1).values as unknown[]).slice(1).map(String);
  const rows: Record<string, unknown>[] = [];
  ws.eachRow((row, n) => {
    if (n === 1) return;
    const values = (row.values as unknown[]).slice(1);
    rows.push(Object.fromEntries(header.map((h, i) => [h, values[i]])));
  });
  return { workbook, header, rows };
}

describe('autologging command', () => {
  it('starts on a fresh folder, says where data goes, records demo sessions and host load, and stops cleanly', async () => {
    const home = path.join(tempDir(), 'fresh home with spaces');
    const agent = startCli(['--home', home, 'run']);
    await agent.waitFor((out) => out.includes('Stop with Ctrl+C.'));
    const printed = agent.output().stdout;
    expect(printed).toContain(`journal:  ${path.join(home, 'journal.db')}`);
    expect(printed).toContain(`Excel:    ${path.join(home, 'exports')}`);
    expect(printed).toMatch(/First run: default settings were written/);
    expect(fs.statSync(home).mode & 0o777).toBe(0o700);

    const running = await eventually(() => {
      const s = status(home);
      return s.records.sessions > 0 && s.records.hostLoad > 0 && s;
    });
    expect(running.agent.running).toBe(true);
    expect(running.jobs.find((j) => j.job === 'capture:demo')!.next).not.toBeNull();
    await eventually(
      () =>
        fs.existsSync(path.join(home, 'exports')) &&
        status(home).jobs.find((j) => j.job === 'export')?.last,
    );

    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(agent.output().stdout).toContain('AutoLogging stopped.');
    expect(fs.existsSync(path.join(home, 'agent.lock'))).toBe(false);
    const after = status(home);
    expect(after.agent.running).toBe(false);
    expect(after.jobs.every((j) => j.last === null || j.last.outcome !== 'running')).toBe(true);
  });

  it('adds nothing when the same window is captured twice', () => {
    const home = homeWith(demoSettings());
    const window = ['--since', '2026-12-01T00:00:00+09:00', '--until', '2026-12-03T00:00:00+09:00'];
    const first = cli(['--home', home, 'capture', '--source', 'demo', ...window]);
    expect(first.code).toBe(0);
    const { sessions, events, hostLoad } = status(home).records;
    expect(sessions).toBeGreaterThan(0);

    const second = cli(['--home', home, 'capture', '--source', 'demo', ...window]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/capture:demo: ok, \d+ in, 0 new, 0 updated/);
    expect(status(home).records).toMatchObject({ sessions, events, hostLoad });
  });

  it('exports a day whose Sessions sheet lists exactly the sessions the journal holds for it', async () => {
    const home = homeWith({
      ...demoSettings({ users: 80, backfillHours: 48 }),
      excel: { language: 'en' },
    });
    expect(cli(['--home', home, 'capture']).code).toBe(0);
    const day = dayOf(Date.now() - 86_400_000, 'Asia/Seoul');
    const r = cli(['--home', home, 'export', '--date', day]);
    expect(r.code).toBe(0);
    const file = path.join(home, 'exports', day.slice(0, 4), `${day}.xlsx`);
    expect(r.stdout).toContain(file);

    // What the journal holds for the day, read with plain SQL rather than the agent's code.
    const { start, end } = dayRange(day, 'Asia/Seoul');
    const db = new DatabaseSync(path.join(home, 'journal.db'), { readOnly: true });
    const expected = db
      .prepare(
        `SELECT id, natural_key FROM sessions
          WHERE span_start < ? AND (span_end IS NULL OR span_end >= ?)`,
      )
      .all(end, start);
    db.close();
    expect(expected.length).toBeGreaterThan(0);

    const { rows, workbook } = await readSheet(file, 'Sessions');
    expect(workbook.worksheets.map((w) => w.name)).toEqual([
      'Sessions',
      'Events',
      'Host load',
      'Summary',
    ]);
    expect(rows.map((row) => row['Record id']).sort()).toEqual(expected.map((e) => e.id).sort());
    expect(rows.map((row) => row['Session key']).sort()).toEqual(
      expected.map((e) => e.natural_key).sort(),
    );
    for (const row of rows) {
      expect(row.User).toMatch(/^U-[0-9A-F]{8}$/);
      expect(row['Client address']).toMatch(/^A-[0-9A-F]{8}$/);
    }
  });

  it('leaves no demo user, name, client or address in the journal, its WAL, the logs or the default workbooks', async () => {
    const home = homeWith(demoSettings({ backfillHours: 72 }));
    const agent = startCli(['--home', home, 'run']);
    await eventually(
      () => status(home).jobs.find((j) => j.job === 'export')?.last?.outcome === 'ok',
    );
    const today = dayOf(Date.now(), 'Asia/Seoul');
    expect(cli(['--home', home, 'export', '--date', today]).code).toBe(0);

    const values = demoPersonalValues();
    expect(values.length).toBeGreaterThan(100);
    const scan = async () => {
      const files = fs
        .readdirSync(home, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.join(e.parentPath, e.name));
      const raw = files.filter((f) => !f.endsWith('.xlsx'));
      const bytes = Buffer.concat(raw.map((f) => fs.readFileSync(f)));
      const cells: string[] = [];
      for (const file of files.filter((f) => f.endsWith('.xlsx'))) {
        const workbook = new ExcelJS.Workbook();
        await workbook.xlsx.readFile(file);
        workbook.eachSheet((ws) => ws.eachRow((row) => row.eachCell((c) => cells.push(c.text))));
      }
      const text = cells.join('\n');
      // The scan does see the data: what is not personal is stored and exported as it is.
      expect(bytes.includes(Buffer.from('Office Desktop'))).toBe(true);
      expect(text).toContain('Office Desktop');
      for (const value of values) {
        expect(bytes.includes(Buffer.from(value, 'utf8')), value).toBe(false);
        expect(bytes.includes(Buffer.from(value, 'utf16le')), value).toBe(false);
        expect(text.includes(value), value).toBe(false);
      }
      return { files, cells: cells.length };
    };

    // While the agent runs, the WAL holds the newest pages; after it stops, the database does.
    const live = await scan();
    expect(live.files.some((f) => f.endsWith('journal.db-wal'))).toBe(true);
    expect(live.files.some((f) => f.endsWith('.log'))).toBe(true);
    expect(live.files.filter((f) => f.endsWith('.xlsx')).length).toBeGreaterThanOrEqual(3);
    expect(live.cells).toBeGreaterThan(1000);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    await scan();
  });

  it('refuses bad settings with exit 2, naming the setting, the value and what is allowed', () => {
    const home = homeWith({ sources: [{ id: 'demo', kind: 'demo', options: { users: 0 } }] });
    for (const args of [['run'], ['capture'], ['settings', 'validate']]) {
      const r = cli(['--home', home, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/sources\[0\]\.options\.users: got 0; users must be at least 1/);
    }
    fs.writeFileSync(path.join(home, 'settings.json'), '{ "sources": [ }');
    const broken = cli(['--home', home, 'settings', 'validate']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/ESETTINGSJSON.*line 1, column 16/);
  });

  it('answers bad usage with exit 2 and a job failure with exit 1 and its code', () => {
    const home = homeWith(demoSettings());
    expect(cli(['--home', home, 'export']).code).toBe(2);
    expect(cli(['--home', home, 'export', '--date', '2026-02-30']).stderr).toMatch(/EUSAGE/);
    expect(cli(['--home', home, 'nosuchcommand']).code).toBe(2);
    const failed = cli(['--home', home, 'capture', '--source', 'host', '--since', '2026-12-01']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/capture:host: failed EWINDOW/);
  });

  it('shows the settings with defaults filled in, and validates the defaults it writes', () => {
    const home = tempDir();
    const started = cli(['--home', home, 'capture', '--source', 'host']);
    expect(started.code).toBe(0);
    expect(cli(['--home', home, 'settings', 'validate']).stdout).toMatch(/is valid: 2 sources/);
    const shown = JSON.parse(cli(['--home', home, 'settings', 'show']).stdout);
    expect(shown.excel).toMatchObject({ folder: 'exports', schedule: { cron: '5 0 * * *' } });
    expect(shown.sources.map((s: { kind: string }) => s.kind)).toEqual(['demo', 'host-metrics']);
  });
});

describe('autologging source', () => {
  it('adds, changes, tests and removes a source, saving only what validates', () => {
    const home = homeWith(demoSettings());
    const settingsFile = path.join(home, 'settings.json');
    const add = cli([
      '--home',
      home,
      'source',
      'add',
      'demo',
      '--id',
      'branch',
      '--set',
      'users=12',
      'deliveryGroups=["Seoul","Busan"]',
      '--schedule',
      '*/10 * * * *',
    ]);
    expect(add.code).toBe(0);
    const saved = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
    expect(saved.sources[2]).toEqual({
      id: 'branch',
      kind: 'demo',
      enabled: true,
      schedule: { cron: '*/10 * * * *' },
      options: { users: 12, deliveryGroups: ['Seoul', 'Busan'] },
    });

    const before = fs.readFileSync(settingsFile, 'utf8');
    const bad = cli(['--home', home, 'source', 'set', 'branch', 'machines=1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /sources\[2\]\.options\.machines: got 1; machines \(1\) must be at least the number of deliveryGroups/,
    );
    expect(cli(['--home', home, 'source', 'set', 'branch', 'nosuch=1']).stderr).toMatch(
      /demo has no option "nosuch"/,
    );
    expect(
      cli(['--home', home, 'source', 'set', 'branch', '--set-env', 'seed=AUTOLOGGING_NOT_SET'])
        .stderr,
    ).toMatch(/AUTOLOGGING_NOT_SET: the environment variable is not set/);
    expect(fs.readFileSync(settingsFile, 'utf8')).toBe(before);

    const env = cli(
      ['--home', home, 'source', 'set', 'branch', '--set-env', 'seed=BRANCH_SEED', '--disable'],
      { BRANCH_SEED: '7' },
    );
    expect(env.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(settingsFile, 'utf8')).sources[2]).toMatchObject({
      enabled: false,
      options: { seed: 7 },
    });

    const tested = cli(['--home', home, 'source', 'test', 'branch']);
    expect(tested.code).toBe(0);
    expect(tested.stdout).toMatch(/^branch: OK: demo answered and read \d+ records/);
    const sample = JSON.parse(/sample: (.*)/.exec(tested.stdout)![1]!);
    expect(sample).toMatchObject({ kind: 'session', user: '***', clientAddress: '***' });
    expect(status(home).records.sessions).toBe(0);

    expect(cli(['--home', home, 'source', 'list']).stdout).toMatch(
      /branch\s+demo\s+disabled \*\/10/,
    );
    expect(cli(['--home', home, 'source', 'remove', 'branch']).code).toBe(0);
    expect(
      JSON.parse(fs.readFileSync(settingsFile, 'utf8')).sources.map((s: { id: string }) => s.id),
    ).toEqual(['demo', 'host']);
  });

  it('applies a change to a running agent without a restart', async () => {
    const home = homeWith(demoSettings({ backfillHours: 1 }));
    const agent = startCli(['--home', home, 'run']);
    await agent.waitFor((out) => out.includes('Stop with Ctrl+C.'));
    expect(
      cli([
        '--home',
        home,
        'source',
        'add',
        'demo',
        '--id',
        'late',
        '--set',
        'seed=9',
        'backfillHours=1',
      ]).code,
    ).toBe(0);
    await agent.waitFor((out) => out.includes('settings applied'));

    fs.writeFileSync(path.join(home, 'settings.json'), '{ "sources": [ }');
    await agent.waitFor((out) =>
      out.includes('settings not applied, the previous ones stay in force'),
    );
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  });
});
