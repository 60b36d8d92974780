/**
 * Against a real SQL Server: only when AUTOLOGGING_TEST_MSSQL holds a connection string, e.g.
 * `Server=127.0.0.1,1433;User Id=sa;Password=...;Encrypt=true;TrustServerCertificate=true`,
 * of a login allowed to create databases (and to KILL sessions). Each run creates its own
 * database and drops it at the end.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import mssql from 'mssql';
import type { ConnectionPool } from 'mssql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event, hostSample, session } from '../../../../../tests/support/records.ts';
import { tempDir } from '../../../../../tests/support/temp.ts';
import { FieldCipher } from '../../crypto/field-cipher.ts';
import { openKeyring } from '../../crypto/keyring.ts';
import { Journal } from '../../journal/journal.ts';
import { closePool, openPool } from './connection.ts';
import { databaseStatus, initDatabase, maintainDatabase } from './database.ts';
import { Forwarder, journalFeed } from './forwarder.ts';
import { MssqlSink } from './mssql-sink.ts';
import { planPartitions, yearStart } from './partition-plan.ts';
import { SCHEMA_VERSION } from './scripts.ts';
import { mssqlSettings, type MssqlSettings } from './settings.ts';
import type { BatchStep } from './sink.ts';

const connection = process.env.AUTOLOGGING_TEST_MSSQL;
if (!connection) {
  process.stdout.write(
    'SQL Server integration tests skipped: AUTOLOGGING_TEST_MSSQL is not set ' +
      '(a connection string of a login allowed to create databases)\n',
  );
}

const AGENT = 'integration-test';
const YEAR = new Date().getUTCFullYear();

/** Settings for `database` from the connection string, with `overrides`. */
function settingsFor(database: string, overrides: Record<string, unknown> = {}): MssqlSettings {
  const parsed = mssql.ConnectionPool.parseConnectionString(connection!);
  const instance = parsed.options?.instanceName;
  return mssqlSettings.parse({
    server: parsed.server,
    ...(instance ? { instance } : { port: parsed.port ?? 1433 }),
    database,
    authentication: 'sql',
    user: parsed.user,
    password: parsed.password,
    encrypt: parsed.options?.encrypt ?? true,
    trustServerCertificate: parsed.options?.trustServerCertificate ?? false,
    agentName: AGENT,
    ...overrides,
  });
}

describe.skipIf(!connection)('SQL Server store (integration)', () => {
  const database = `autologging_test_${crypto.randomBytes(4).toString('hex')}`;
  let settings: MssqlSettings;
  let admin: ConnectionPool;
  let pool: ConnectionPool;

  beforeAll(async () => {
    admin = await openPool(settingsFor('master'));
    await admin.request().batch(`CREATE DATABASE [${database}];`);
    settings = settingsFor(database);
    pool = await openPool(settings);
  });

  afterAll(async () => {
    await closePool(pool);
    if (admin) {
      await admin
        .request()
        .batch(
          `IF DB_ID(N'${database}') IS NOT NULL BEGIN ` +
            `ALTER DATABASE [${database}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; ` +
            `DROP DATABASE [${database}]; END`,
        );
      await closePool(admin);
    }
  });

  /** Names, types and definitions of every object in the schema, plus versions and bounds. */
  async function snapshot() {
    const objects = await pool.request().query(`
      SELECT o.name, o.type, OBJECT_DEFINITION(o.object_id) AS definition
      FROM sys.objects AS o WHERE o.schema_id = SCHEMA_ID(N'autologging') ORDER BY o.name`);
    const versions = await pool
      .request()
      .query('SELECT version, script, applied_at FROM autologging.schema_version ORDER BY version');
    const bounds = await pool.request().query(`
      SELECT CAST(v.value AS datetime2(3)) AS boundary FROM sys.partition_range_values AS v
      JOIN sys.partition_functions AS f ON f.function_id = v.function_id
      WHERE f.name = N'autologging_year_pf' ORDER BY v.boundary_id`);
    return { objects: objects.recordset, versions: versions.recordset, bounds: bounds.recordset };
  }

  it('applies the scripts once; applying them again changes nothing', async () => {
    const first = await initDatabase(settings);
    expect(first.applied.map((a) => a.version)).toEqual([1, 2, 3]);
    expect(first.schemaVersion).toBe(SCHEMA_VERSION);
    const before = await snapshot();
    expect(before.bounds.map((b) => (b.boundary as Date).getUTCFullYear())).toEqual(
      Array.from({ length: 6 }, (_, i) => YEAR - 3 + i),
    );

    const second = await initDatabase(settings);
    expect(second.applied).toEqual([]);
    expect(await snapshot()).toEqual(before);

    await initDatabase(settings, { reapply: true });
    const after = await snapshot();
    expect(after.versions).toEqual(before.versions);
    expect(after.bounds).toEqual(before.bounds);
    expect(after.objects.map((o) => [o.name, o.type, o.definition])).toEqual(
      before.objects.map((o) => [o.name, o.type, o.definition]),
    );
  });

  it('forwards every record once, even when its connection is killed mid-batch', async () => {
    const home = tempDir();
    const journal = Journal.open(
      path.join(home, 'journal.db'),
      new FieldCipher(openKeyring({ home })),
    );
    try {
      const records = [];
      for (let i = 0; i < 40; i++) {
        const at = yearStart(YEAR) - 20 * 3_600_000 + i * 3_600_000;
        records.push(session({ key: `s-${i}`, startAt: at, stateChangedAt: at }));
        records.push(event({ key: `e-${i}`, at }));
      }
      records.push(hostSample({ at: yearStart(YEAR) }));
      journal.applyCapture('demo', records, null);
      const run = journal.startRun('capture:demo', 'capture', 'demo', 'manual');
      journal.finishRun(run, { outcome: 'ok', recordsIn: records.length });

      const kills: BatchStep[] = ['after-load', 'before-commit', 'after-commit'];
      let batch = 0;
      const sink = new MssqlSink(settings, {
        onStep: async (step, { spid }) => {
          if (step === 'before-load') batch++;
          if (batch === 2 && step === kills[0]) {
            kills.shift();
            batch = 0;
            await admin.request().batch(`KILL ${Number(spid)};`);
          }
        },
      });
      const forwarder = new Forwarder({
        journal: journalFeed(journal),
        sink,
        agent: AGENT,
        limits: { maxRecords: 10, maxBytes: 1_000_000 },
        backoff: { baseMs: 50, maxMs: 500 },
      });

      await forwarder.forward();
      await forwarder.close();
      expect(kills).toEqual([]);

      const counts = await pool.request().query(`
        SELECT (SELECT COUNT(*) FROM autologging.sessions) AS sessions,
               (SELECT COUNT(DISTINCT id) FROM autologging.sessions) AS session_ids,
               (SELECT COUNT(*) FROM autologging.events) AS events,
               (SELECT COUNT(*) FROM autologging.host_load) AS host_load,
               (SELECT COUNT(*) FROM autologging.runs) AS runs`);
      expect(counts.recordset[0]).toEqual({
        sessions: 40,
        session_ids: 40,
        events: 40,
        host_load: 1,
        runs: 1,
      });

      // Each row sits in the partition of its UTC year.
      const placed = await pool.request().query(`
        SELECT $PARTITION.autologging_year_pf(at) AS partition_number, YEAR(at) AS year, COUNT(*) AS n
        FROM autologging.events GROUP BY $PARTITION.autologging_year_pf(at), YEAR(at)`);
      const status = await databaseStatus(settings, { journal: journalFeed(journal) });
      for (const row of placed.recordset) {
        const partition = status.partitions.find((p) => p.number === row.partition_number);
        expect(partition?.year).toBe(row.year);
      }
      expect(placed.recordset.map((r) => r.year).sort()).toEqual([YEAR - 1, YEAR]);
      expect(status.forwarder).toMatchObject({ agent: AGENT, lag: { records: 0 } });
      expect(status.schemaVersion).toBe(SCHEMA_VERSION);
      expect(status.partitions.find((p) => p.year === YEAR)?.rows.events).toBeGreaterThan(0);
    } finally {
      journal.close();
    }
  });

  it('runs maintenance across a year end: adds the year after next, removes the oldest', async () => {
    await pool.request().batch(`
      INSERT INTO autologging.events (id, source, natural_key, rev, key_version, type, at, captured_at)
      VALUES ('${'1'.repeat(32)}', 'm', 'a', 1, 1, 'logon', '${YEAR - 5}-06-01', SYSUTCDATETIME()),
             ('${'2'.repeat(32)}', 'm', 'b', 1, 1, 'logon', '${YEAR - 3}-06-01', SYSUTCDATETIME()),
             ('${'3'.repeat(32)}', 'm', 'c', 1, 1, 'logon', '${YEAR - 2}-06-01', SYSUTCDATETIME());`);
    const bounds = async () => (await databaseStatus(settings)).boundaries;

    const lastMs = await maintainDatabase(settings, {
      now: () => Date.UTC(YEAR, 11, 31, 23, 59, 59, 999),
    });
    expect(lastMs.split).toEqual([]);
    expect(lastMs.merged).toEqual([]);

    const before = await bounds();
    const newYear = Date.UTC(YEAR + 1, 0, 1);
    const report = await maintainDatabase(settings, { now: () => newYear });
    const plan = planPartitions(before, newYear, 3);
    expect(report.split).toEqual(plan.split);
    expect(report.merged).toEqual(plan.merge);
    expect(report.boundaries[0]).toBe(yearStart(YEAR - 2));
    expect(report.boundaries.at(-1)).toBe(yearStart(YEAR + 3));

    const left = await pool
      .request()
      .query(`SELECT natural_key FROM autologging.events WHERE source = 'm' ORDER BY natural_key`);
    expect(left.recordset.map((r) => r.natural_key)).toEqual(['c']);

    // The DBA's procedure follows the same plan a year later.
    const later = Date.UTC(YEAR + 2, 0, 1);
    const expected = planPartitions(await bounds(), later, 3);
    await pool
      .request()
      .input('now', mssql.DateTime2(3), new Date(later))
      .execute('autologging.maintain');
    const after = await bounds();
    expect(after.at(-1)).toBe(expected.split.at(-1));
    expect(after[0]).toBe(expected.clearBefore);
  });

  it('refuses to add a year that already holds rows rather than move them', async () => {
    await pool.request().batch(`
      INSERT INTO autologging.events (id, source, natural_key, rev, key_version, type, at, captured_at)
      VALUES ('${'4'.repeat(32)}', 'm', 'future', 1, 1, 'logon', '${YEAR + 6}-06-01', SYSUTCDATETIME());`);
    // Both years still to add would split the partition that holds the row.
    const report = await maintainDatabase(settings, { now: () => Date.UTC(YEAR + 4, 0, 1) });
    expect(report.refused.map((r) => new Date(r.boundary).getUTCFullYear())).toEqual([
      YEAR + 5,
      YEAR + 6,
    ]);
    expect(report.split).toEqual([]);
    const kept = await pool
      .request()
      .query(`SELECT COUNT(*) AS n FROM autologging.events WHERE natural_key = 'future'`);
    expect(kept.recordset[0].n).toBe(1);
  });

  it('stops on a wrong password without showing it', async () => {
    const wrong = 'Wr0ng-' + crypto.randomBytes(6).toString('hex');
    const bad = settingsFor(database, { password: wrong });
    const forwarder = new Forwarder({
      journal: { changes: () => [], lastRev: () => 0, runsAfter: () => [] },
      sink: new MssqlSink(bad),
      agent: AGENT,
    });
    const error = await forwarder.forward().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EMSSQLLOGIN', recovery: 'stop' });
    expect(JSON.stringify(forwarder.status())).not.toContain(wrong);
    expect(String((error as Error).message)).not.toContain(wrong);
  });
});
