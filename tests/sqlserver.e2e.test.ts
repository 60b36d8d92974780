import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal } from '../extensions/autologging/src/journal/journal.ts';
import { cli, cliAsync, eventually, startCli } from './support/cli.ts';
import { demoSettings, homeWith } from './support/home.ts';
import { port, refusingServer } from './support/tds-server.ts';

// The agent with a SQL Server that refuses it: captures go on into the journal, the forwarder
// stops with a clear status, and the password shows up nowhere. Against a real server, see
// extensions/autologging/src/sinks/mssql/mssql.integration.test.ts.

const PASSWORD = 'Sql-Pa55-For-Test!';

function mssqlAt(serverPort: number) {
  return {
    server: '127.0.0.1',
    port: serverPort,
    database: 'AutoLogging',
    authentication: 'sql',
    user: 'autologging_writer',
    password: PASSWORD,
    encrypt: false,
    connectTimeoutMs: 2_000,
  };
}

function statusOf(home: string) {
  const r = cli(['--home', home, 'status', '--json']);
  return JSON.parse(r.stdout) as {
    records: { sessions: number };
    forwarder: { state: string; lastError: { code: string } | null } | null;
  };
}

describe('SQL Server forwarding', () => {
  it('stops on a refused login with a clear status while captures go on, and never shows the password', async () => {
    const serverPort = await port(
      refusingServer(18456, "Login failed for user 'autologging_writer'."),
    );
    const home = homeWith({ ...demoSettings({ backfillHours: 24 }), mssql: mssqlAt(serverPort) });
    const agent = startCli(['--home', home, 'run']);

    const stopped = await eventually(() => {
      const s = statusOf(home);
      return s.forwarder?.state === 'stopped' && s;
    });
    expect(stopped.forwarder!.lastError!.code).toBe('EMSSQLLOGIN');
    expect(stopped.records.sessions).toBeGreaterThan(0);
    const human = cli(['--home', home, 'status']).stdout;
    expect(human).toMatch(/SQL Server forwarder: stopped since .*last error EMSSQLLOGIN/);

    const db = await cliAsync(['--home', home, 'db', 'status']);
    expect(db.code).toBe(1);
    expect(db.stderr).toMatch(/EMSSQLLOGIN/);

    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);

    const journal = Journal.open(path.join(home, 'journal.db'), null);
    const forwards = journal.recentRuns(50, { job: 'forward:mssql' });
    journal.close();
    expect(forwards.map((r) => [r.outcome, r.errorCode])).toEqual([['failed', 'EMSSQLLOGIN']]);

    const settings = JSON.parse(fs.readFileSync(path.join(home, 'settings.json'), 'utf8'));
    expect(settings.mssql.password).toEqual({ $secret: 'mssql.password' });
    const everything = fs
      .readdirSync(home, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => fs.readFileSync(path.join(e.parentPath, e.name)));
    const printed = [agent.output().stdout, agent.output().stderr, db.stdout, db.stderr, human];
    for (const bytes of [...everything, ...printed.map((t) => Buffer.from(t))]) {
      expect(bytes.includes(Buffer.from(PASSWORD))).toBe(false);
    }
  });

  it('says ENOMSSQL with exit 2 when no SQL Server is configured', () => {
    const home = homeWith(demoSettings());
    for (const command of ['init', 'status', 'maintain']) {
      const r = cli(['--home', home, 'db', command]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/ENOMSSQL: no SQL Server is configured/);
    }
  });

  it('checks SQL Server settings at start, naming the setting', () => {
    const home = homeWith({ ...demoSettings(), mssql: { ...mssqlAt(1433), port: 70000 } });
    const r = cli(['--home', home, 'settings', 'validate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mssql\.port: got 70000; port must be at most 65535/);
  });
});
