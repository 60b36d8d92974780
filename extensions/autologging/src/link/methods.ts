import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Agent } from '../agent.ts';
import { AutoLoggingError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { CommandRunner } from '../platform/command.ts';
import { cronProblem, nextRuns } from '../schedule/cron.ts';
import { isSecretKey, validateSettings } from '../settings/schema.ts';
import { parseSettingsJson } from '../settings/store.ts';
import { databaseStatus, initDatabase, journalFeed, mssqlSettings } from '../sinks/mssql/index.ts';
import type { SourcePlugin } from '../sources/types.ts';
import { isValidTimeZone } from '../time.ts';
import { VERSION } from '../version.ts';
import { openFolder } from './open-folder.ts';
import {
  codeParams,
  decryptExport,
  decryptParams,
  exportRecovery,
  exportRecoveryParams,
  keysStatus,
  otpDisable,
  otpSetup,
  otpStatus,
  otpUnlock,
  requireUnlocked,
  setupParams,
  type ConnectionState,
  type KeyringOpener,
} from './protect-methods.ts';
import { overview } from './report.ts';

/** What the methods need besides the agent. */
export interface MethodContext {
  agent: Agent;
  log: Logger;
  /** Starts the program that opens a folder; tests pass a recording fake. */
  run: CommandRunner;
  platform: NodeJS.Platform;
  /** `AUTOLOGGING_OPEN_WITH`: the program that opens folders instead of the system's. */
  openWith?: string | undefined;
  plugins: ReadonlyMap<string, SourcePlugin<unknown>>;
  /** Unlocks the keyring (passphrase, key file or DPAPI) for key management. */
  unlockKeyring: KeyringOpener;
  /** What the connection the request came on remembers (its OTP unlock). */
  connection: ConnectionState;
  now?: () => number;
}

/** One RPC method: its parameters' schema and what it does with checked parameters. */
interface Method {
  params: z.ZodType;
  handle: (params: unknown, context: MethodContext) => unknown;
}

const none = z.object({}).strict().optional();

function method<P>(params: z.ZodType<P>, handle: (p: P, c: MethodContext) => unknown): Method {
  return { params, handle: handle as Method['handle'] };
}

/** A method that, when one-time codes are on, needs the connection unlocked (`EOTPREQUIRED`). */
function guarded<P>(params: z.ZodType<P>, handle: (p: P, c: MethodContext) => unknown): Method {
  return method(params, (p, c) => {
    requireUnlocked(c);
    return handle(p, c);
  });
}

/** One field of a source kind's options, for the window's form. */
export interface OptionField {
  name: string;
  type: 'string' | 'number' | 'integer' | 'boolean' | 'json';
  enum?: string[];
  default?: unknown;
  secret: boolean;
  description?: string;
}

/**
 * The method table: every name the RPC surface answers, namespaced by area. Parameters are
 * checked against each method's schema before it runs; a bad one fails with `EPARAMS`.
 */
export const METHODS: Readonly<Record<string, Method>> = {
  'status.get': method(none, (_p, { agent, platform }) => ({
    version: VERSION,
    pid: process.pid,
    platform,
    home: agent.paths.home,
    settingsFile: agent.paths.settings,
    timeZone: agent.timeZone,
    firstRun: agent.firstRun,
    exportsFolder: agent.exportsFolder,
    nextRuns: agent.nextRuns(),
    forwarder: agent.forwarderStatus(),
  })),

  // Secrets stay in the vault: settings.json holds only `{ "$secret": name }` references.
  'settings.get': guarded(none, (_p, { agent, plugins }) => ({
    settings: parseSettingsJson(
      agent.paths.settings,
      fs.readFileSync(agent.paths.settings, 'utf8'),
    ),
    timeZone: agent.timeZone,
    // The Excel password arrives with workbook encryption; the form offers it once it exists.
    supports: {
      excelPassword: validateSettings({ excel: { password: 'x' } }, plugins).ok,
    },
  })),

  'settings.save': guarded(
    z.object({ settings: z.record(z.string(), z.unknown()) }).strict(),
    ({ settings }, context) => {
      context.agent.saveSettings(settings);
      context.log.info('settings saved from the window');
      return METHODS['settings.get']!.handle(undefined, context);
    },
  ),

  'sources.kinds': method(none, (_p, { plugins, platform }) =>
    [...plugins.values()].map((p) => ({
      kind: p.kind,
      description: p.description,
      defaultSchedule: p.defaultSchedule,
      available: !p.platforms || p.platforms.includes(platform),
      fields: optionFields(p.options),
    })),
  ),

  'sources.test': method(z.object({ id: z.string() }).strict(), ({ id }, { agent }) => {
    requireSource(agent, id);
    return agent.testSource(id);
  }),

  'capture.now': method(
    z
      .object({ sources: z.array(z.string()).max(100).optional() })
      .strict()
      .optional(),
    (p, { agent }) => {
      for (const id of p?.sources ?? []) requireSource(agent, id);
      return agent.captureAll('manual', p?.sources);
    },
  ),

  'runs.list': method(
    z
      .object({
        job: z.string().max(200).optional(),
        outcome: z.enum(['running', 'ok', 'failed', 'aborted', 'interrupted']).optional(),
        limit: z.int().min(1).max(500).optional(),
      })
      .strict()
      .optional(),
    (p, { agent }) => ({
      jobs: agent.journal.lastRuns().map((r) => r.job),
      runs: agent.journal.recentRuns(p?.limit ?? 100, {
        ...(p?.job ? { job: p.job } : {}),
        ...(p?.outcome ? { outcome: p.outcome } : {}),
      }),
    }),
  ),

  'report.overview': method(none, (_p, { agent, now }) => overview(agent, (now ?? Date.now)())),

  'schedule.preview': method(
    z
      .object({
        cron: z.string().max(200),
        timeZone: z.string().max(100).optional(),
        count: z.int().min(1).max(20).optional(),
      })
      .strict(),
    ({ cron, timeZone, count }, { agent, now }) => {
      const problem = cronProblem(cron);
      if (problem) throw new AutoLoggingError('ECRON', `not a valid cron expression: ${problem}`);
      if (timeZone && !isValidTimeZone(timeZone)) {
        throw new AutoLoggingError('ETIMEZONE', `"${timeZone}" is not an IANA time zone name`);
      }
      const zone = timeZone ?? agent.timeZone;
      return { timeZone: zone, runs: nextRuns({ cron }, zone, (now ?? Date.now)(), count ?? 5) };
    },
  ),

  'excel.list': method(
    z
      .object({ limit: z.int().min(1).max(200).optional() })
      .strict()
      .optional(),
    (p, { agent }) => ({
      folder: agent.exportsFolder,
      files: recentWorkbooks(agent.exportsFolder, p?.limit ?? 20),
    }),
  ),

  'excel.openFolder': method(none, (_p, { agent, run, platform, openWith }) =>
    openFolder(agent.exportsFolder, run, platform, openWith),
  ),

  'db.fields': method(none, () => optionFields(mssqlSettings)),

  'logs.recent': method(
    z
      .object({
        level: z.enum(['debug', 'info', 'warn', 'error']).optional(),
        limit: z.int().min(1).max(1000).optional(),
      })
      .strict()
      .optional(),
    (p, { agent }) => recentLogs(agent.paths.logs, p?.level ?? 'info', p?.limit ?? 200),
  ),

  'db.status': method(none, async (_p, { agent }) => {
    const mssql = agent.settings.mssql;
    if (!mssql) return { configured: false };
    const status = await databaseStatus(mssql, { journal: journalFeed(agent.journal) });
    return { configured: true, status, forwarder: agent.forwarderStatus() };
  }),

  'db.init': method(none, async (_p, { agent }) => {
    const mssql = agent.settings.mssql;
    if (!mssql) {
      throw new AutoLoggingError(
        'ENOMSSQL',
        'no SQL Server is configured: save its settings first',
      );
    }
    return initDatabase(mssql);
  }),

  // Rotation and protectors stay on the command line: they need the agent restarted.
  'keys.status': method(none, (_p, context) => keysStatus(context)),

  // Every key leaves the machine in this file: when codes are on, it needs an unlock first.
  'keys.exportRecovery': guarded(exportRecoveryParams, exportRecovery),

  'otp.status': method(none, (_p, context) => otpStatus(context)),
  'otp.setup': method(setupParams, otpSetup),
  'otp.unlock': method(codeParams, otpUnlock),
  'otp.disable': method(codeParams, otpDisable),

  'decrypt.export': guarded(decryptParams, decryptExport),
};

function requireSource(agent: Agent, id: string): void {
  if (!agent.settings.sources.some((s) => s.id === id)) {
    throw new AutoLoggingError('ENOSOURCE', `no source with id ${JSON.stringify(id)} in settings`);
  }
}

/** The newest workbooks under `folder` (`yyyy/yyyy-mm-dd.xlsx`), newest day first. */
function recentWorkbooks(folder: string, limit: number) {
  if (!fs.existsSync(folder)) return [];
  const files: Array<{ day: string; file: string; bytes: number; modifiedAt: number }> = [];
  for (const entry of fs.readdirSync(folder, { recursive: true, withFileTypes: true })) {
    const match = /^(\d{4}-\d{2}-\d{2})\.xlsx$/.exec(entry.name);
    if (!entry.isFile() || !match) continue;
    const file = path.join(entry.parentPath, entry.name);
    const stat = fs.statSync(file);
    files.push({ day: match[1]!, file, bytes: stat.size, modifiedAt: stat.mtimeMs });
  }
  return files.sort((a, b) => (a.day < b.day ? 1 : -1)).slice(0, limit);
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;

/**
 * The newest entries of the newest log files at `level` or above, newest first. Log entries
 * hold no secret and no personal value, so they may be shown as they are.
 */
function recentLogs(dir: string, level: keyof typeof LEVELS, limit: number) {
  if (!fs.existsSync(dir)) return [];
  const files = fs
    .readdirSync(dir)
    .filter((f) => /^autologging-\d{4}-\d{2}-\d{2}\.log$/.test(f))
    .sort()
    .reverse()
    .slice(0, 2);
  const entries: unknown[] = [];
  for (const file of files) {
    const lines = fs.readFileSync(path.join(dir, file), 'utf8').split('\n').reverse();
    for (const line of lines) {
      if (entries.length >= limit) return entries;
      try {
        const entry = JSON.parse(line) as { level?: keyof typeof LEVELS };
        if (entry.level && LEVELS[entry.level] >= LEVELS[level]) entries.push(entry);
      } catch {
        // A line cut by a crash: skipped.
      }
    }
  }
  return entries;
}

type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
};

/**
 * The options of a source kind as form fields, read from its schema: the union of the
 * properties of every variant (a `mode` decides which apply), with type, choices and default.
 */
export function optionFields(schema: z.ZodType): OptionField[] {
  let json: JsonSchema;
  try {
    json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  } catch {
    return [];
  }
  const fields = new Map<string, OptionField>();
  const visit = (node: JsonSchema) => {
    for (const variant of [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])]) {
      visit(variant);
    }
    for (const [name, prop] of Object.entries(node.properties ?? {})) {
      const known = fields.get(name);
      const choices = [
        ...(known?.enum ?? []),
        ...((prop.enum ?? (prop.const !== undefined ? [prop.const] : [])) as unknown[]).map(String),
      ];
      const type = Array.isArray(prop.type) ? prop.type[0] : prop.type;
      fields.set(name, {
        name,
        type:
          type === 'number' || type === 'integer' || type === 'boolean' || type === 'string'
            ? type
            : choices.length
              ? 'string'
              : 'json',
        ...(choices.length ? { enum: [...new Set(choices)] } : {}),
        ...(prop.default !== undefined ? { default: prop.default } : {}),
        ...(prop.description ? { description: prop.description } : {}),
        secret: isSecretKey(name),
      });
    }
  };
  visit(json);
  return [...fields.values()];
}
