import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { SourcePlugin } from '../sources/types.ts';
import { applyAssignments, parseAssignments, readEnvAssignments } from './edit.ts';

const plugin = {
  kind: 'fake',
  description: 'test',
  defaultSchedule: '* * * * *',
  options: z.strictObject({
    url: z.string(),
    port: z.int().default(443),
    secure: z.boolean().optional(),
    groups: z.array(z.string()).default([]),
    fields: z.strictObject({ user: z.string(), start: z.string().optional() }).optional(),
  }),
  create: () => {
    throw new Error('not used');
  },
} as unknown as SourcePlugin<unknown>;

describe('source option assignments', () => {
  it('converts each value to the type its option takes, reaching nested options by dots', () => {
    const options: Record<string, unknown> = { port: 1 };
    applyAssignments(
      plugin,
      options,
      parseAssignments([
        'url=https://ddc01/Citrix=x',
        'port=8443',
        'secure=false',
        'groups=["a","b"]',
        'fields.user=UserName',
      ]),
    );
    expect(options).toEqual({
      url: 'https://ddc01/Citrix=x',
      port: 8443,
      secure: false,
      groups: ['a', 'b'],
      fields: { user: 'UserName' },
    });
  });

  it('names the option and what it takes when a value does not fit', () => {
    const apply = (word: string) => () => applyAssignments(plugin, {}, parseAssignments([word]));
    expect(apply('port=many')).toThrow(/port takes a number, not "many"/);
    expect(apply('secure=yes')).toThrow(/secure takes true or false/);
    expect(apply('groups=a,b')).toThrow(/groups takes JSON/);
    expect(apply('colour=red')).toThrow(
      /fake has no option "colour"; its options: url, port, secure, groups, fields/,
    );
    expect(apply('fields.nosuch=1')).toThrow(/no option "fields.nosuch"/);
    expect(() => parseAssignments(['=x'])).toThrow(/is not key=value/);
  });

  it('reads values from the environment and never shows them in an error', () => {
    expect(readEnvAssignments(['url=SITE_URL'], { SITE_URL: 'https://x' })).toEqual([
      { key: 'url', text: 'https://x' },
    ]);
    expect(() => readEnvAssignments(['url=MISSING'], {})).toThrow(
      /--set-env url=MISSING: the environment variable is not set/,
    );
  });
});
