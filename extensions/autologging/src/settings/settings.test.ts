import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { tempDir } from '../../../../tests/support/temp.ts';
import { builtInSources } from '../sources/registry.ts';
import type { SourcePlugin } from '../sources/types.ts';
import { findJsonSyntaxError } from './json-position.ts';
import { isSecretKey, validateSettings } from './schema.ts';
import { defaultSettings, loadSettings, maskSecrets, saveSettings } from './store.ts';

const fakePlugin: SourcePlugin<{ users: number; password?: string }> = {
  kind: 'fake',
  description: 'a test source',
  options: z.strictObject({
    users: z.int().min(1).default(10),
    password: z.string().optional(),
  }),
  defaultSchedule: '*/5 * * * *',
  create: () => {
    throw new Error('not used');
  },
};
const plugins = new Map([['fake', fakePlugin as SourcePlugin<unknown>]]);

function problems(raw: unknown) {
  const result = validateSettings(raw, plugins);
  if (result.ok) throw new Error('expected problems');
  return result.problems;
}

describe('settings schema', () => {
  it('fills every default, including a source schedule from its plugin', () => {
    const result = validateSettings({ sources: [{ id: 'a', kind: 'fake' }] }, plugins);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.settings.sources[0]).toEqual({
      id: 'a',
      kind: 'fake',
      enabled: true,
      schedule: { cron: '*/5 * * * *' },
      options: { users: 10 },
    });
    expect(result.settings.excel).toMatchObject({
      enabled: true,
      folder: 'exports',
      language: 'ko',
    });
    expect(result.settings.excel.schedule).toEqual({ cron: '5 0 * * *' });
    expect(result.settings.logs).toEqual({ level: 'info', keepDays: 90 });
  });

  it('accepts a schedule as a cron string or as cron with a time zone', () => {
    const result = validateSettings(
      {
        sources: [
          { id: 'a', kind: 'fake', schedule: '0 * * * *' },
          { id: 'b', kind: 'fake', schedule: { cron: '0 9 * * 1-5', timeZone: 'Asia/Seoul' } },
        ],
      },
      plugins,
    );
    expect(result.ok && result.settings.sources.map((s) => s.schedule)).toEqual([
      { cron: '0 * * * *' },
      { cron: '0 9 * * 1-5', timeZone: 'Asia/Seoul' },
    ]);
  });

  it('names the setting, the bad value and what is allowed', () => {
    const found = problems({ sources: [{ id: 'a', kind: 'fake', options: { users: 0 } }] });
    expect(found).toHaveLength(1);
    expect(found[0]!.path).toBe('sources[0].options.users');
    expect(found[0]!.value).toBe(0);
    expect(found[0]!.message).toMatch(/>=\s*1/);
  });

  it('rejects an impossible cron expression and a wrong field count', () => {
    const found = problems({
      sources: [
        { id: 'a', kind: 'fake', schedule: '61 * * * *' },
        { id: 'b', kind: 'fake', schedule: { cron: '* * *' } },
      ],
    });
    expect(found.map((p) => p.path)).toEqual(['sources[0].schedule', 'sources[1].schedule.cron']);
    expect(found[0]!.message).toMatch(/cron/);
    expect(found[1]!.message).toMatch(/5 fields/);
  });

  it('rejects an unknown time zone, kind, duplicate id and unknown key', () => {
    const found = problems({
      timeZone: 'Mars/Olympus',
      sources: [
        { id: 'a', kind: 'fake' },
        { id: 'a', kind: 'fake' },
        { id: 'b', kind: 'nosuch' },
      ],
      colour: 'blue',
    });
    const paths = found.map((p) => p.path);
    expect(paths).toContain('timeZone');
    expect(paths).toContain('colour');
    const rest = problems({
      sources: [
        { id: 'a', kind: 'fake' },
        { id: 'a', kind: 'fake' },
        { id: 'b', kind: 'nosuch' },
      ],
    });
    expect(rest.map((p) => [p.path, p.message])).toEqual([
      ['sources[1].id', expect.stringMatching(/unique/)],
      ['sources[2].kind', 'must be one of: fake'],
    ]);
  });

  it('never shows the value of a secret option in a problem', () => {
    const found = problems({ sources: [{ id: 'a', kind: 'fake', options: { password: 42 } }] });
    expect(found[0]).toMatchObject({ path: 'sources[0].options.password', value: '***' });
  });
});

describe('settings file', () => {
  it('writes the defaults on first load, owner-only, and reads them back unchanged', () => {
    const file = path.join(tempDir(), 'settings.json');
    const first = loadSettings(file, builtInSources);
    expect(first.created).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(first.raw).toEqual(defaultSettings());
    expect(first.settings.sources.filter((s) => s.enabled).map((s) => s.kind)).toEqual([
      'demo',
      'host-metrics',
    ]);
    expect(loadSettings(file, builtInSources).created).toBe(false);
  });

  it('says ESETTINGSJSON with the position when the file is not JSON', () => {
    const file = path.join(tempDir(), 'settings.json');
    fs.writeFileSync(file, '{ "sources": [ }');
    expect(() => loadSettings(file, plugins)).toThrow(
      expect.objectContaining({
        code: 'ESETTINGSJSON',
        message: expect.stringMatching(/line 1, column 16/),
      }),
    );
  });

  it('saves only valid settings and leaves the file untouched otherwise', () => {
    const file = path.join(tempDir(), 'settings.json');
    saveSettings(file, { sources: [{ id: 'a', kind: 'fake' }] }, plugins);
    const before = fs.readFileSync(file, 'utf8');
    expect(() =>
      saveSettings(file, { sources: [{ id: 'a', kind: 'fake', options: { users: -1 } }] }, plugins),
    ).toThrow(expect.objectContaining({ code: 'ESETTINGS' }));
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });

  it('masks secrets at any depth', () => {
    expect(
      maskSecrets({ a: { password: 'hunter2', list: [{ clientSecret: 'x', name: 'ok' }] } }),
    ).toEqual({ a: { password: '***', list: [{ clientSecret: '***', name: 'ok' }] } });
  });
});

describe('JSON syntax errors', () => {
  it.each([
    ['{ "a": 1, }', 1, 11, '"}"'],
    ['{\n  "a": [1, 2\n}', 3, 1, '"}"'],
    ['{ "password": "hunter2" ', 1, 25, 'end of file'],
    ['[1, 2] x', 1, 8, '"x"'],
    ['{ "a": tru }', 1, 11, '" "'],
  ])('places the error in %j at line %i, column %i', (text, line, column, found) => {
    expect(findJsonSyntaxError(text)).toEqual({ line, column, found });
  });

  it('accepts what JSON.parse accepts', () => {
    const text = JSON.stringify({ a: [1, -2.5e3, 'x\\"y\u00e9\n'], b: { c: null, d: true } });
    expect(findJsonSyntaxError(text)).toBeNull();
    expect(findJsonSyntaxError(JSON.stringify(defaultSettings(), null, 2))).toBeNull();
  });

  it('never repeats the text around the error, which may hold a secret', () => {
    const file = path.join(tempDir(), 'settings.json');
    fs.writeFileSync(file, '{ "password": "hunter2" ');
    expect(() => loadSettings(file, plugins)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });
});

describe('secret option names', () => {
  it.each([
    ['password', true],
    ['clientSecret', true],
    ['apiToken', true],
    ['passphrase', true],
    ['tokenUrl', false],
    ['user', false],
    ['passwordHint', false],
  ])('judges %s as secret: %s', (key, secret) => {
    expect(isSecretKey(key)).toBe(secret);
  });
});

describe('platform-bound sources', () => {
  const windowsOnly = {
    ...fakePlugin,
    kind: 'quser',
    platforms: ['win32'],
  } as SourcePlugin<unknown>;
  const both = new Map([...plugins, ['quser', windowsOnly]]);

  it('refuses an enabled Windows-only source elsewhere with ENEEDSWINDOWS, naming the source', () => {
    const result = validateSettings({ sources: [{ id: 'vda', kind: 'quser' }] }, both, 'linux');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      {
        path: 'sources[0].kind',
        value: 'quser',
        code: 'ENEEDSWINDOWS',
        message: expect.stringMatching(/needs Windows; this machine runs linux/),
      },
    ]);
  });

  it('accepts it on Windows, and disabled anywhere', () => {
    expect(validateSettings({ sources: [{ id: 'vda', kind: 'quser' }] }, both, 'win32').ok).toBe(
      true,
    );
    const disabled = { sources: [{ id: 'vda', kind: 'quser', enabled: false }] };
    expect(validateSettings(disabled, both, 'linux').ok).toBe(true);
  });

  it('applies to the real Windows sources', () => {
    for (const kind of ['windows-sessions', 'windows-events', 'citrix-broker']) {
      const result = validateSettings({ sources: [{ id: 'x', kind }] }, builtInSources, 'linux');
      expect(result.ok && kind).toBe(false);
      if (!result.ok) expect(result.problems[0]!.code).toBe('ENEEDSWINDOWS');
    }
  });
});
