import { z } from 'zod';
import { Secret } from '../crypto/secret.ts';
import { cronProblem, type Schedule } from '../schedule/cron.ts';
import { mssqlSettings } from '../sinks/mssql/settings.ts';
import type { SourcePlugin } from '../sources/types.ts';
import { isValidTimeZone } from '../time.ts';

const timeZone = z.string().refine(isValidTimeZone, {
  message: 'must be an IANA time zone name such as "Asia/Seoul" or "UTC"',
});

const cron = z.string().superRefine((value, ctx) => {
  const problem = cronProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `not a valid cron expression: ${problem}` });
});

/** A schedule is written as a cron string or as `{ cron, timeZone }`. */
const schedule = z
  .union([cron, z.strictObject({ cron, timeZone: timeZone.optional() })])
  .transform((value): Schedule => (typeof value === 'string' ? { cron: value } : value));

/** The Excel password, wrapped as soon as it is read; Excel accepts at most 255 characters. */
const excelPassword = z
  .string()
  .min(1, { error: 'must not be empty (remove the setting to write pseudonyms instead)' })
  .max(255, { error: 'must be at most 255 characters, the most Excel accepts' })
  .transform((value) => new Secret(Buffer.from(value, 'utf8')));

const sourceEntry = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
    message: 'must be 1-63 lower-case letters, digits, "-" or "_", starting with a letter or digit',
  }),
  kind: z.string().min(1),
  enabled: z.boolean().default(true),
  schedule: schedule.optional(),
  options: z.unknown().optional(),
});

const baseSettings = z.strictObject({
  $schema: z.string().optional(),
  /** Format version of settings.json. */
  version: z.literal(1).default(1),
  /** The zone for schedules, day boundaries and Excel dates; default the system's. */
  timeZone: timeZone.optional(),
  sources: z.array(sourceEntry).default([]),
  excel: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Folder of the daily workbooks; relative paths are inside the data folder. */
      folder: z.string().min(1).default('exports'),
      /** When the previous day's workbook is written. */
      schedule: schedule.default({ cron: '5 0 * * *' }),
      /** Language of column headers and the Summary sheet. */
      language: z.enum(['ko', 'en']).default('ko'),
      /** How many past days the start-up catch-up looks at for missing workbooks. */
      catchUpDays: z.int().min(0).max(3660).default(31),
      /**
       * When set, every workbook is encrypted to open with this password and shows personal
       * fields in plain text; without, they show as pseudonyms. A secret: kept in the vault.
       */
      password: excelPassword.optional(),
    })
    .prefault({}),
  maintenance: z
    .strictObject({
      schedule: schedule.default({ cron: '30 3 * * *' }),
    })
    .prefault({}),
  journal: z
    .strictObject({
      /**
       * Whole years kept before the current one; older years are dropped each night. At least
       * 3: the journal is the archive when no SQL Server is configured.
       */
      retentionYears: z.int().min(3).max(100).default(3),
    })
    .prefault({}),
  /** The company's SQL Server, which every journal record is forwarded to; absent: none. */
  mssql: mssqlSettings.optional(),
  logs: z
    .strictObject({
      level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
      keepDays: z.int().min(1).max(3660).default(90),
    })
    .prefault({}),
});

/** A source entry after validation: options checked and defaulted by the source's plugin. */
export interface SourceSettings {
  id: string;
  kind: string;
  enabled: boolean;
  schedule: Schedule;
  options: unknown;
}

/** Settings after validation, with every default filled in. */
export type Settings = Omit<z.output<typeof baseSettings>, 'sources'> & {
  sources: SourceSettings[];
};

/** One thing wrong with the settings. */
export interface SettingsProblem {
  /** Where, e.g. `sources[0].options.users`. */
  path: string;
  /** The value found there (secrets masked), or undefined when missing. */
  value: unknown;
  /** What is allowed. */
  message: string;
  /** A specific code, where one applies (`ENEEDSWINDOWS`). */
  code?: string;
}

/** The result of validating settings. */
export type Validation =
  { ok: true; settings: Settings } | { ok: false; problems: SettingsProblem[] };

/**
 * Validates raw settings (parsed JSON) against the one schema, with each source's options
 * checked by its plugin. Never throws; does no I/O.
 */
export function validateSettings(
  raw: unknown,
  plugins: ReadonlyMap<string, SourcePlugin<unknown>>,
  platform: NodeJS.Platform = process.platform,
): Validation {
  const base = baseSettings.safeParse(raw);
  if (!base.success) return { ok: false, problems: toProblems(base.error.issues, raw, []) };

  const problems: SettingsProblem[] = [];
  const sources: SourceSettings[] = [];
  const seen = new Set<string>();
  base.data.sources.forEach((entry, i) => {
    const at = ['sources', i];
    if (seen.has(entry.id)) {
      problems.push({
        path: formatPath([...at, 'id']),
        value: entry.id,
        message: 'must be unique: another source already has this id',
      });
    }
    seen.add(entry.id);
    const plugin = plugins.get(entry.kind);
    if (!plugin) {
      problems.push({
        path: formatPath([...at, 'kind']),
        value: entry.kind,
        message: `must be one of: ${[...plugins.keys()].sort().join(', ')}`,
      });
      return;
    }
    if (entry.enabled && plugin.platforms && !plugin.platforms.includes(platform)) {
      problems.push({
        path: formatPath([...at, 'kind']),
        value: entry.kind,
        code: 'ENEEDSWINDOWS',
        message:
          `needs ${plugin.platforms.map(platformName).join(' or ')}; this machine runs ` +
          `${platformName(platform)} (disable the source here, or run the agent there)`,
      });
    }
    const options = plugin.options.safeParse(entry.options ?? {});
    if (!options.success) {
      problems.push(...toProblems(options.error.issues, entry.options ?? {}, [...at, 'options']));
      return;
    }
    sources.push({
      id: entry.id,
      kind: entry.kind,
      enabled: entry.enabled,
      schedule: entry.schedule ?? { cron: plugin.defaultSchedule },
      options: options.data,
    });
  });
  if (problems.length) return { ok: false, problems };
  return { ok: true, settings: { ...base.data, sources } };
}

function platformName(platform: NodeJS.Platform): string {
  return platform === 'win32' ? 'Windows' : platform === 'darwin' ? 'macOS' : platform;
}

/** `a.b[0].c` from a path of keys and indexes. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

/**
 * True for option names that hold secrets (`password`, `clientSecret`, `apiToken`): their
 * values are never shown and never kept in settings.json. Judged by how the name ends, so
 * that `tokenUrl` is an address, not a secret.
 */
export function isSecretKey(key: string): boolean {
  return /(pass(word|phrase)?|secret|token|api_?key|credentials?)$/i.test(key);
}

function toProblems(
  issues: readonly z.core.$ZodIssue[],
  root: unknown,
  prefix: ReadonlyArray<PropertyKey>,
): SettingsProblem[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'invalid_union') {
      const nested = issue.errors.flat();
      const best = nested.length ? nested : [];
      if (best.length)
        return toProblems(
          best.map((n) => ({ ...n, path: [...issue.path, ...n.path] })),
          root,
          prefix,
        );
    }
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: formatPath([...prefix, ...issue.path, key]),
        value: valueAt(root, [...issue.path, key]),
        message: 'is not a known setting',
      }));
    }
    const last = issue.path[issue.path.length - 1];
    const secret = typeof last === 'string' && isSecretKey(last);
    return [
      {
        path: formatPath([...prefix, ...issue.path]) || '(settings)',
        value: secret ? '***' : valueAt(root, issue.path),
        message: issue.message,
      },
    ];
  });
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
