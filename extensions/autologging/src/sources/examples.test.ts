import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseJsonc } from '../jsonc.ts';
import { validateSettings } from '../settings/schema.ts';
import { builtInSources } from './registry.ts';

// Every source folder has an annotated example.jsonc of its settings entry (or entries). Each
// must be what settings.json accepts for that kind, checked by the real settings schema on a
// system the source runs on, with the kind's default schedule.

describe('annotated examples', () => {
  it.each([...builtInSources.values()].map((p) => [p.kind, p] as const))(
    '%s: example.jsonc is a valid settings entry of its kind',
    (kind, plugin) => {
      const text = readFileSync(new URL(`./${kind}/example.jsonc`, import.meta.url), 'utf8');
      const parsed = parseJsonc(text);
      const entries = (Array.isArray(parsed) ? parsed : [parsed]) as Array<Record<string, unknown>>;

      expect(entries.length).toBeGreaterThan(0);
      for (const entry of entries) {
        expect(entry).toMatchObject({
          kind,
          enabled: true,
          schedule: { cron: plugin.defaultSchedule },
        });
        const platform = plugin.platforms?.[0] ?? process.platform;
        const result = validateSettings({ sources: [entry] }, builtInSources, platform);
        expect(result.ok ? [] : result.problems).toEqual([]);
      }
    },
  );
});
