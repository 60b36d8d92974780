import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { QuserLayoutError, parseQuser } from './quser.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

describe('parseQuser', () => {
  it('reads an English table with the > marker, blank session names and every idle form', () => {
    const { rows, problems } = parseQuser(fixture('quser-english.txt'));

    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.user, r.sessionName, r.sessionId, r.state, r.idleMinutes])).toEqual([
      ['administrator', 'rdp-tcp#0', 2, 'Active', 0],
      ['minjun.kim', null, 3, 'Disc', 65],
      ['james.miller', 'ica-cgp#12', 4, 'Active', null],
      ['seoyeon.park', 'ica-cgp#13', 5, 'Active', 42],
      ['svc.batch', null, 6, 'Disc', 2 * 1440 + 3 * 60 + 17],
      ['jiwoo.lee', 'console', 1, 'Active', null],
    ]);
    expect(rows.map((r) => r.current)).toEqual([true, false, false, false, false, false]);
    expect(rows.map((r) => r.line)).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('reads 12-hour English times, midnight and noon included, and 24-hour ones', () => {
    const { rows } = parseQuser(fixture('quser-english.txt'));

    expect(rows.map((r) => r.logon)).toEqual([
      { year: 2017, month: 7, day: 21, hour: 5, minute: 35 },
      { year: 2017, month: 7, day: 21, hour: 8, minute: 2 },
      { year: 2017, month: 7, day: 21, hour: 12, minute: 15 },
      { year: 2017, month: 7, day: 21, hour: 0, minute: 5 },
      { year: 2017, month: 7, day: 19, hour: 23, minute: 59 },
      { year: 2017, month: 7, day: 20, hour: 17, minute: 40 },
    ]);
  });

  it('reads a table of disconnected sessions only', () => {
    const { rows, problems } = parseQuser(fixture('quser-disconnected.txt'));

    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.user, r.sessionName, r.sessionId, r.state])).toEqual([
      ['minjun.kim', null, 3, 'Disc'],
      ['hana.choi', null, 7, 'Disc'],
      ['james.miller', null, 11, 'Disc'],
    ]);
  });

  it('reads Korean headers, states and 오전/오후 times', () => {
    const { rows, problems } = parseQuser(fixture('quser-korean.txt'));

    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.user, r.sessionName, r.state, r.idleMinutes])).toEqual([
      ['administrator', 'rdp-tcp#0', '활성', 0],
      ['minjun.kim', null, '디스크', 65],
      ['seoyeon.park', 'ica-cgp#4', '활성', null],
      ['jihoon.jung', 'ica-cgp#5', '활성', 7],
      ['yuna.kang', null, '디스크', 1440 + 2 * 60 + 3],
    ]);
    expect(rows.map((r) => `${r.logon.day} ${r.logon.hour}:${r.logon.minute}`)).toEqual([
      '27 14:5',
      '27 9:5',
      '27 12:30',
      '28 0:10',
      '26 23:45',
    ]);
  });

  it('reads a Korean table whose header is spaced for the screen, not the rows', () => {
    const { rows, problems } = parseQuser(fixture('quser-korean-screen-aligned.txt'));

    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.user, r.sessionName, r.sessionId])).toEqual([
      ['administrator', 'rdp-tcp#0', 2],
      ['minjun.kim', null, 3],
      ['administrator.kim01', 'ica-cgp#9', 8],
    ]);
  });

  it('reads German headers, states and day.month.year dates', () => {
    const { rows, problems } = parseQuser(fixture('quser-german.txt'));

    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.user, r.sessionName, r.state, r.idleMinutes])).toEqual([
      ['administrator', 'rdp-tcp#0', 'Aktiv', 0],
      ['lukas.schmidt', null, 'Getr.', 65],
      ['anna.mueller', 'ica-cgp#3', 'Aktiv', null],
    ]);
    expect(rows[2]?.logon).toEqual({ year: 2017, month: 7, day: 20, hour: 23, minute: 59 });
  });

  it('reads truncated, abutting, overlong and blank-holding names, wide ids and idle times', () => {
    const { rows, problems } = parseQuser(fixture('quser-long-names.txt'));

    expect(problems).toEqual([]);
    expect(rows.map((r) => [r.user, r.sessionName, r.sessionId, r.idleMinutes])).toEqual([
      ['christopher.montgome', 'rdp-tcp#1', 2, 0],
      ['abcdefghij.klmnopqrstu', 'rdp-tcp#7', 3, 5],
      ['maximilian.von.hohenzollern', 'ica-cgp#22', 4, 60],
      ['John Smith', null, 5, 12 * 1440 + 3 * 60 + 45],
      ['kim.a', 'ica-cgp#1234', 1234, 123 * 1440 + 62],
    ]);
    expect(rows[3]?.logon).toEqual({ year: 2017, month: 7, day: 9, hour: 10, minute: 0 });
  });

  it('reads a/b/yyyy as day first when told to', () => {
    const { rows } = parseQuser(fixture('quser-english-day-first.txt'), 'day-first');

    expect(rows.map((r) => r.logon)).toEqual([
      { year: 2017, month: 7, day: 21, hour: 17, minute: 35 },
      { year: 2017, month: 8, day: 3, hour: 9, minute: 5 },
    ]);
  });

  it('suggests day-first dates when a month-first reading finds a month past 12', () => {
    const { rows, problems } = parseQuser(fixture('quser-english-day-first.txt'));

    expect(rows.map((r) => r.user)).toEqual(['emily.jones']);
    expect(problems).toEqual([
      { line: 2, field: 'LOGON TIME', reason: expect.stringContaining('day-first') },
    ]);
  });

  it('returns unreadable rows as problems naming line and column, and keeps the good rows', () => {
    const { rows, problems } = parseQuser(fixture('quser-bad-rows.txt'));

    expect(rows.map((r) => r.user)).toEqual(['administrator', 'james.miller']);
    expect(problems.map((p) => [p.line, p.field])).toEqual([
      [3, 'LOGON TIME'],
      [4, 'LOGON TIME'],
      [5, 'IDLE TIME'],
    ]);
    const said = JSON.stringify(problems);
    expect(said).not.toContain('secret.person');
    expect(said).not.toContain('hidden.user');
  });

  it('gives no rows for blank output', () => {
    expect(parseQuser('\r\n\r\n')).toEqual({ rows: [], problems: [] });
  });

  it('fails on a header in an unknown language, naming the line', () => {
    expect(() => parseQuser(fixture('quser-unknown-layout.txt'))).toThrow(QuserLayoutError);
    expect(() => parseQuser(fixture('quser-unknown-layout.txt'))).toThrow(/line 1 .*ユーザー名/);
  });

  it('does not repeat a first line that looks like a session row', () => {
    const text =
      '>administrator         rdp-tcp#0           2  Active          .  7/21/2017 5:35 AM';
    expect(() => parseQuser(text)).toThrow(/^line 1 is not a quser header[^:]*$/);
  });

  it('rejects a line too long to be a quser row without repeating it', () => {
    const lines = fixture('quser-english.txt').split('\r\n');
    lines.splice(2, 0, ` ${'x'.repeat(2000)}  rdp-tcp#4  9  Active  .  7/21/2017 5:35 AM`);
    const { rows, problems } = parseQuser(lines.join('\n'));

    expect(rows).toHaveLength(6);
    expect(problems).toEqual([{ line: 3, field: 'line', reason: expect.any(String) }]);
  });
});
