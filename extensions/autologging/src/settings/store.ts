import fs from 'node:fs';
import { SettingsError } from '../errors.ts';
import { writeFileAtomic } from '../platform/files.ts';
import { findJsonSyntaxError } from './json-position.ts';
import type { SourcePlugin } from '../sources/types.ts';
import { isSecretKey, validateSettings, type Settings, type SettingsProblem } from './schema.ts';

/** The settings written on first run: the demo site and this machine's load, both enabled. */
export function defaultSettings(): Record<string, unknown> {
  return {
    version: 1,
    sources: [
      {
        id: 'demo',
        kind: 'demo',
        enabled: true,
        schedule: { cron: '*/5 * * * *' },
        // Three days back: a first start on any day of the week shows a working day.
        options: { backfillHours: 72 },
      },
      { id: 'host', kind: 'host-metrics', enabled: true, schedule: { cron: '* * * * *' } },
    ],
    excel: { enabled: true, folder: 'exports', schedule: { cron: '5 0 * * *' } },
    maintenance: { schedule: { cron: '30 3 * * *' } },
    logs: { level: 'info', keepDays: 90 },
  };
}

/** What `loadSettings` found. */
export interface LoadedSettings {
  settings: Settings;
  /** The file as written, for showing and editing. */
  raw: Record<string, unknown>;
  /** True when the file did not exist and the defaults were just written. */
  created: boolean;
}

/** How `loadSettings` reads the file. */
export interface LoadOptions {
  /** Write the defaults when the file is missing. Default true. */
  createIfMissing?: boolean;
  /**
   * Turns the file's content into what is validated (the secret vault resolves references
   * here). It may change `raw` in place and return true in `rewrite` to have it saved.
   */
  prepare?: (raw: Record<string, unknown>) => { value: unknown; rewrite: boolean };
}

/**
 * Reads and validates `file`, writing the defaults first when it does not exist. Throws
 * `SettingsError`: `ESETTINGSJSON` when the file is not JSON, `ESETTINGS` with every problem
 * listed when it does not match the schema, `ENOSETTINGS` when it is missing and may not be
 * created.
 */
export function loadSettings(
  file: string,
  plugins: ReadonlyMap<string, SourcePlugin<unknown>>,
  options: LoadOptions = {},
): LoadedSettings {
  const createIfMissing = options.createIfMissing ?? true;
  let created = false;
  if (!fs.existsSync(file)) {
    if (!createIfMissing) {
      throw new SettingsError(`no settings file at ${file}`, { code: 'ENOSETTINGS' });
    }
    writeFileAtomic(file, JSON.stringify(defaultSettings(), null, 2) + '\n');
    created = true;
  }
  const raw = parseSettingsJson(file, fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  const prepared = options.prepare?.(raw) ?? { value: raw, rewrite: false };
  if (prepared.rewrite) writeFileAtomic(file, JSON.stringify(raw, null, 2) + '\n');
  const result = validateSettings(prepared.value, plugins);
  if (!result.ok) throw settingsError(file, result.problems);
  return { settings: result.settings, raw, created };
}

/**
 * Validates `raw` and, only when valid, writes it to `file` atomically and owner-only.
 * Throws `SettingsError` listing the problems otherwise; the file is then untouched.
 */
export function saveSettings(
  file: string,
  raw: Record<string, unknown>,
  plugins: ReadonlyMap<string, SourcePlugin<unknown>>,
): Settings {
  const result = validateSettings(raw, plugins);
  if (!result.ok) throw settingsError(file, result.problems);
  writeFileAtomic(file, JSON.stringify(raw, null, 2) + '\n');
  return result.settings;
}

/** A copy of `value` with every secret-looking key's value replaced by `***`. */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      isSecretKey(k) && v !== null ? '***' : maskSecrets(v),
    ]),
  );
}

/** One line a problem: `path: got VALUE; MESSAGE`. */
export function describeProblems(problems: readonly SettingsProblem[]): string {
  return problems
    .map(
      (p) =>
        `${p.path}: ${p.value === undefined ? 'missing' : `got ${JSON.stringify(p.value)}`}; ${p.message}`,
    )
    .join('\n');
}

function settingsError(file: string, problems: SettingsProblem[]): SettingsError {
  const error = new SettingsError(
    `${file} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
      describeProblems(problems),
  );
  return Object.assign(error, { problems });
}

/** Parses settings JSON; a syntax error names the line and column, never the text around it. */
export function parseSettingsJson(file: string, text: string): unknown {
  const problem = findJsonSyntaxError(text);
  if (problem) {
    throw new SettingsError(
      `${file} is not valid JSON: unexpected ${problem.found} at line ${problem.line}, ` +
        `column ${problem.column}`,
      { code: 'ESETTINGSJSON' },
    );
  }
  return JSON.parse(text);
}
