import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Agent } from '../extensions/autologging/src/agent.ts';
import { SourceError, throwIfAborted } from '../extensions/autologging/src/errors.ts';
import { Journal } from '../extensions/autologging/src/journal/journal.ts';
import { memoryLogger } from '../extensions/autologging/src/log/logger.ts';
import { demoSource } from '../extensions/autologging/src/sources/demo/index.ts';
import { DemoSite } from '../extensions/autologging/src/sources/demo/generator.ts';
import { builtInSources } from '../extensions/autologging/src/sources/registry.ts';
import type { CaptureResult, SourcePlugin } from '../extensions/autologging/src/sources/types.ts';
import { dayOf } from '../extensions/autologging/src/time.ts';
import { demoSettings, homeWith } from './support/home.ts';
import { session } from './support/records.ts';

const NOW = Date.UTC(2026, 11, 3, 6, 0); // Thursday 15:00 in Seoul

/** A source kind whose capture does whatever the test says. */
function scriptedPlugin(
  capture: (signal: AbortSignal) => Promise<CaptureResult>,
): SourcePlugin<unknown> {
  return {
    kind: 'scripted',
    description: 'test source',
    options: z.strictObject({}),
    defaultSchedule: '0 0 1 1 *',
    create: () => ({
      open: async () => {},
      capture: (_cursor, signal) => capture(signal),
      close: async () => {},
    }),
  };
}

function pluginsWith(plugin: SourcePlugin<unknown>) {
  return new Map([...builtInSources, [plugin.kind, plugin]]);
}

function open(home: string, extra: Partial<Parameters<typeof Agent.open>[0]> = {}) {
  const log = memoryLogger();
  const agent = Agent.open({ home, log, now: () => NOW, ...extra });
  return { agent, log };
}

describe('agent', () => {
  it('captures every enabled source into the journal and records a run for each', async () => {
    const { agent } = open(homeWith(demoSettings()));
    const results = await agent.captureAll('manual');

    expect(results.map((r) => [r.job, r.outcome])).toEqual([
      ['capture:demo', 'ok'],
      ['capture:host', 'ok'],
    ]);
    const stats = agent.journal.stats();
    expect(stats.sessions).toBeGreaterThan(0);
    expect(stats.events).toBeGreaterThan(0);
    expect(stats.hostLoad).toBe(1);
    const runs = agent.journal.recentRuns(10);
    expect(runs.map((r) => [r.job, r.trigger, r.outcome])).toEqual([
      ['capture:host', 'manual', 'ok'],
      ['capture:demo', 'manual', 'ok'],
    ]);
    expect(runs[1]!.recordsNew).toBe(results[0]!.recordsNew);
    agent.close();
  });

  it('stores exactly what the simulated site did in the window, and nothing more the second time', async () => {
    const { agent } = open(homeWith(demoSettings({ users: 60 })));
    const window = { since: NOW - 48 * 3_600_000, until: NOW };
    const first = await agent.capture('demo', 'manual', { window });
    const second = await agent.capture('demo', 'manual', { window });

    const truth = new DemoSite(demoSource.options.parse({ users: 60 }), 'Asia/Seoul').between(
      window.since,
      window.until,
    );
    expect(first.recordsNew).toBe(truth.sessions.length + truth.events.length);
    expect(second).toMatchObject({ outcome: 'ok', recordsNew: 0, recordsUpdated: 0 });
    expect(agent.journal.stats()).toMatchObject({
      sessions: truth.sessions.length,
      events: truth.events.length,
    });
    expect(agent.journal.cursor('demo')).toBeNull();
    agent.close();
  });

  it('brings a long first backfill in parts and ends at the same place as one capture', async () => {
    const { agent } = open(homeWith(demoSettings({ backfillHours: 24 * 30 })));
    const result = await agent.capture('demo', 'catch-up');

    expect(result.outcome).toBe('ok');
    expect(agent.journal.cursor('demo')).toBe(String(NOW));
    const truth = new DemoSite(demoSource.options.parse({}), 'Asia/Seoul').between(
      NOW - 30 * 86_400_000,
      NOW,
    );
    expect(agent.journal.stats()).toMatchObject({
      sessions: truth.sessions.length,
      events: truth.events.length,
    });
    agent.close();
  });

  it('records a failed capture with its code, samples the host with processes, and goes on', async () => {
    const plugin = scriptedPlugin(async () => {
      throw new SourceError('ECONNREFUSED', 'broken', 'the controller refused the connection');
    });
    const home = homeWith({
      sources: [
        { id: 'broken', kind: 'scripted' },
        { id: 'host', kind: 'host-metrics', options: { intervalMs: 100 } },
      ],
    });
    const { agent } = open(home, { plugins: pluginsWith(plugin) });
    const [failed, host] = await agent.captureAll('manual');

    expect(failed).toMatchObject({ outcome: 'failed', error: { code: 'ECONNREFUSED' } });
    expect(host!.outcome).toBe('ok');
    const [run] = agent.journal.recentRuns(1, { job: 'capture:broken' });
    expect(run).toMatchObject({ outcome: 'failed', errorCode: 'ECONNREFUSED' });
    expect(run!.errorMessage).toMatch(/refused/);
    const samples = [...agent.journal.hostLoad({ start: 0, end: Number.MAX_SAFE_INTEGER })];
    const failure = samples.find((s) => s.reason === 'failure');
    expect(failure).toMatchObject({ triggerCode: 'ECONNREFUSED', source: 'host' });
    expect(failure!.processes!.length).toBeGreaterThan(0);
    agent.close();
  });

  it('keeps the good records of a capture that rejected others, and records the run as failed', async () => {
    const plugin = scriptedPlugin(async () => ({
      records: [session({ key: 'good-1' }), session({ key: 'good-2' })],
      cursor: 'after-good-2',
      rejected: [
        {
          code: 'EBADRECORD',
          message: 'source odd: Sessions page 1 row 3: StartDate is not a date',
        },
      ],
    }));
    const { agent } = open(homeWith({ sources: [{ id: 'odd', kind: 'scripted' }] }), {
      plugins: pluginsWith(plugin),
    });
    const result = await agent.capture('odd', 'manual');

    expect(result).toMatchObject({
      outcome: 'failed',
      recordsNew: 2,
      error: { code: 'EBADRECORD' },
    });
    expect(agent.journal.stats().sessions).toBe(2);
    expect(agent.journal.cursor('odd')).toBe('after-good-2');
    expect(agent.journal.recentRuns(1)[0]).toMatchObject({ outcome: 'failed', recordsNew: 2 });
    agent.close();
  });

  it('writes the missing workbooks of past days once, and never today', async () => {
    const home = homeWith(demoSettings({ backfillHours: 72 }));
    const { agent } = open(home);
    await agent.capture('demo', 'manual');
    const written = await agent.exportMissing();

    const days = written.map((r) => path.basename(r.file!, '.xlsx'));
    expect(days).toEqual(['2026-11-30', '2026-12-01', '2026-12-02']);
    expect(days).not.toContain(dayOf(NOW, 'Asia/Seoul'));
    for (const r of written) expect(fs.existsSync(r.file!)).toBe(true);
    expect(await agent.exportMissing()).toEqual([]);
    agent.close();
  });

  /** A source that holds its capture until released, or until the signal fires. */
  function heldPlugin() {
    const held = { release: () => {} };
    const plugin = scriptedPlugin(
      (signal) =>
        new Promise((resolve, reject) => {
          held.release = () => resolve({ records: [session()], cursor: 'c' });
          signal.addEventListener('abort', () => {
            try {
              throwIfAborted(signal, 'scripted capture');
            } catch (error) {
              reject(error);
            }
          });
        }),
    );
    return { plugin, held };
  }

  function lastRun(home: string) {
    const journal = Journal.open(path.join(home, 'journal.db'), null);
    const [run] = journal.recentRuns(1);
    const stats = journal.stats();
    journal.close();
    return { run, stats };
  }

  it('lets a job in progress finish when stopped within the grace time', async () => {
    const { plugin, held } = heldPlugin();
    const home = homeWith({ sources: [{ id: 'slow', kind: 'scripted' }] });
    const { agent } = open(home, { plugins: pluginsWith(plugin), now: Date.now });
    agent.start();
    await new Promise((r) => setTimeout(r, 50));
    const stopped = agent.stop(10_000);
    held.release();
    await stopped;

    const { run, stats } = lastRun(home);
    expect(run).toMatchObject({ job: 'capture:slow', outcome: 'ok', recordsNew: 1 });
    expect(stats.sessions).toBe(1);
  });

  it('aborts a job that outlasts the grace time, storing nothing of it, and releases the folder', async () => {
    const { plugin, held } = heldPlugin();
    const home = homeWith({ sources: [{ id: 'slow', kind: 'scripted' }] });
    const { agent } = open(home, { plugins: pluginsWith(plugin), now: Date.now });
    agent.start();
    expect(fs.existsSync(path.join(home, 'agent.lock'))).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    await agent.stop(200);
    held.release();

    const { run, stats } = lastRun(home);
    expect(run).toMatchObject({ job: 'capture:slow', outcome: 'aborted', errorCode: 'EABORTED' });
    expect(stats.sessions).toBe(0);
    expect(fs.existsSync(path.join(home, 'agent.lock'))).toBe(false);
    expect(fs.existsSync(path.join(home, 'agent.json'))).toBe(false);
  });

  it('keeps a password typed into settings.json only in the vault, and hands the source the real one', async () => {
    const seen: unknown[] = [];
    const plugin: SourcePlugin<unknown> = {
      ...scriptedPlugin(async () => ({ records: [], cursor: null })),
      options: z.strictObject({ password: z.string() }),
      create: (options) => {
        seen.push(options);
        return {
          open: async () => {},
          capture: async () => ({ records: [], cursor: null }),
          close: async () => {},
        };
      },
    };
    const home = homeWith({
      sources: [{ id: 'site', kind: 'scripted', options: { password: 'Pa$$w0rd!' } }],
    });
    const { agent } = open(home, { plugins: pluginsWith(plugin) });
    await agent.capture('site', 'manual');
    agent.close();

    expect(seen).toEqual([{ password: 'Pa$$w0rd!' }]);
    for (const file of ['settings.json', 'secrets.json', 'journal.db']) {
      expect(fs.readFileSync(path.join(home, file), 'utf8')).not.toContain('Pa$$w0rd!');
    }
    const settings = JSON.parse(fs.readFileSync(path.join(home, 'settings.json'), 'utf8'));
    expect(settings.sources[0].options.password).toEqual({
      $secret: 'sources.site.options.password',
    });
  });

  it('drops whole years past the retention in the nightly maintenance, keeping three by default', async () => {
    const years = [2021, 2022, 2023, 2024, 2025, 2026];
    const plugin = scriptedPlugin(async () => ({
      records: years.map((y) =>
        session({ key: `s${y}`, startAt: Date.UTC(y, 5, 1), stateChangedAt: Date.UTC(y, 5, 1) }),
      ),
      cursor: null,
    }));
    const { agent } = open(homeWith({ sources: [{ id: 'old', kind: 'scripted' }] }), {
      plugins: pluginsWith(plugin),
    });
    await agent.capture('old', 'manual');
    expect(agent.journal.stats().sessions).toBe(6);

    expect((await agent.maintain('manual')).outcome).toBe('ok');
    expect(agent.journal.stats().sessions).toBe(4);
    const kept = [...agent.journal.sessions({ start: 0, end: Date.UTC(2027, 0, 1) })];
    expect(kept.map((s) => s.key).sort()).toEqual(['s2023', 's2024', 's2025', 's2026']);
    expect(agent.journal.recentRuns(1, { job: 'maintenance' })[0]).toMatchObject({ outcome: 'ok' });
    agent.close();
  });

  it('refuses to start while another live agent holds the data folder', () => {
    const home = homeWith(demoSettings());
    fs.writeFileSync(path.join(home, 'agent.lock'), String(process.ppid));
    const { agent } = open(home);
    expect(() => agent.start()).toThrow(expect.objectContaining({ code: 'EAGENTRUNNING' }));
    agent.journal.close();
  });

  it('takes over the lock of an agent that died', async () => {
    const home = homeWith(demoSettings({ backfillHours: 0 }));
    fs.writeFileSync(path.join(home, 'agent.lock'), '999999999');
    const { agent } = open(home, { now: Date.now });
    agent.start();
    await agent.caughtUp();
    expect(fs.readFileSync(path.join(home, 'agent.lock'), 'utf8')).toBe(String(process.pid));
    await agent.stop();
  });
});
