import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './temp.ts';

/** A fresh data folder holding `settings` as its settings.json. */
export function homeWith(settings: Record<string, unknown>): string {
  const home = tempDir('autologging-home-');
  fs.writeFileSync(path.join(home, 'settings.json'), JSON.stringify(settings, null, 2));
  return home;
}

/** Settings with the demo source (and the given options) and the host sampler, in Seoul. */
export function demoSettings(demoOptions: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    timeZone: 'Asia/Seoul',
    sources: [
      { id: 'demo', kind: 'demo', schedule: '*/5 * * * *', options: demoOptions },
      { id: 'host', kind: 'host-metrics', schedule: '* * * * *', options: { intervalMs: 100 } },
    ],
  };
}
