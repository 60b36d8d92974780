import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { Agent, type JobResult } from './agent.ts';
import {
  registerProtectCommands,
  runDecryptExport,
  type DecryptExportOptions,
} from './cli-protect.ts';
import { SettingsError, UsageError, describeError } from './errors.ts';
import { Journal } from './journal/journal.ts';
import { linkCommand, serveWindow } from './link/index.ts';
import {
  createLogger,
  fileSink,
  formatEntry,
  teeSink,
  type LogEntry,
  type LogLevel,
  type LogSink,
} from './log/logger.ts';
import { readAgentInfo, type AgentInfo } from './platform/agent-lock.ts';
import { homePaths, resolveHome } from './platform/paths.ts';
import { nextRuns } from './schedule/cron.ts';
import { validateSettings, type Settings, type Validation } from './settings/schema.ts';
import {
  SecretVault,
  placeholderSecrets,
  resolveSecrets,
  sealSecrets,
} from './settings/secrets.ts';
import {
  applyAssignments,
  parseAssignments,
  readEnvAssignments,
  type Assignment,
} from './settings/edit.ts';
import { FieldCipher } from './crypto/field-cipher.ts';
import { Keyring, openKeyring, type Keys } from './crypto/keyring.ts';
import { windowsDpapi } from './crypto/dpapi.ts';
import { currentActor } from './protect/audit.ts';
import { secureHome } from './protect/permissions.ts';
import { auditSettingsChange } from './settings/changes.ts';
import { runCommand } from './platform/command.ts';
import { ensurePrivateDir, writeFileAtomic } from './platform/files.ts';
import {
  defaultSettings,
  describeProblems,
  maskSecrets,
  parseSettingsJson,
} from './settings/store.ts';
import {
  databaseStatus,
  initDatabase,
  journalFeed,
  maintainDatabase,
  type MssqlSettings,
} from './sinks/mssql/index.ts';
import { builtInSources } from './sources/registry.ts';
import type { CaptureWindow } from './sources/types.ts';
import { dayRange, daysBetween, parseDay, systemTimeZone } from './time.ts';
import { VERSION } from './version.ts';

/** Exit codes: 0 ok, 1 a job failed, 2 bad usage or settings. */
const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const out = (line = '') => process.stdout.write(line + '\n');
const err = (line: string) => process.stderr.write(line + '\n');

/** Options every command shares. */
interface GlobalOptions {
  home?: string;
}

/**
 * The `autologging` command line. Returns the exit code; `run` resolves only when the agent
 * has stopped.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('autologging')
    .description('AutoLogging: records Citrix and Windows VDI sessions into an encrypted journal')
    .version(VERSION)
    .option('--home <dir>', 'data folder (default: AUTOLOGGING_HOME, then the system data folder)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError();

  const home = () => resolveHome((program.opts() as GlobalOptions).home);

  program
    .command('run')
    .description('run the agent in the foreground: capture, export and maintain on schedule')
    .action(async () => {
      exitCode = await runAgent(home());
    });

  program
    .command('link')
    .description('the window bridge Neutralino starts: hands the window the running agent')
    .action(async () => {
      await linkCommand(home(), agentLogger(home(), false));
    });

  program
    .command('capture')
    .description('capture now from the named sources (default: every enabled source), then exit')
    .option('--source <id...>', 'source ids from settings')
    .option('--since <time>', 'capture the window from this time (ISO 8601, or YYYY-MM-DD)')
    .option('--until <time>', "to this time (default: now); the sources' cursors stay put")
    .action(async (options: { source?: string[]; since?: string; until?: string }) => {
      const agent = await openAgent(home());
      try {
        for (const id of options.source ?? []) {
          if (!agent.settings.sources.some((s) => s.id === id)) {
            throw new UsageError(
              `no source ${JSON.stringify(id)}; sources in settings: ` +
                agent.settings.sources.map((s) => s.id).join(', '),
            );
          }
        }
        const window = captureWindow(options, agent.timeZone);
        const results = await agent.captureAll('manual', options.source, window);
        for (const r of results) out(describeResult(r));
        exitCode = results.every((r) => r.outcome === 'ok') ? EXIT.ok : EXIT.failed;
      } finally {
        agent.close();
      }
    });

  program
    .command('export')
    .description('write the Excel workbooks of the given days, then exit')
    .option('--date <yyyy-mm-dd>', 'one day')
    .option('--from <yyyy-mm-dd>', 'first day of a range')
    .option('--to <yyyy-mm-dd>', 'last day of a range (included)')
    .option('--decrypt', 'one password-encrypted workbook with personal fields readable (audited)')
    .option('--user <name>', 'with --decrypt: only this user')
    .option('--out <file>', 'with --decrypt: the workbook to write')
    .option('--otp <code>', 'with --decrypt: a one-time code, when one-time codes are on')
    .option('--password-env <name>', 'with --decrypt: variable holding the workbook password')
    .action(
      async (
        options: { date?: string; from?: string; to?: string } & DecryptExportOptions & {
            decrypt?: boolean;
          },
      ) => {
        if (options.decrypt) return runDecryptExport(home(), options);
        const days = exportDays(options);
        const agent = await openAgent(home());
        try {
          let failed = false;
          for (const day of days) {
            const result = await agent.exportDay(day, 'manual');
            out(describeResult(result, day));
            failed ||= result.outcome !== 'ok';
          }
          exitCode = failed ? EXIT.failed : EXIT.ok;
        } finally {
          agent.close();
        }
      },
    );

  program
    .command('status')
    .description('is the agent running, the last and next run of every job, record counts')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => {
      const status = readStatus(home());
      if (options.json) out(JSON.stringify(status, null, 2));
      else printStatus(status);
    });

  const settings = program.command('settings').description('check or show the settings');
  settings
    .command('validate')
    .description('check settings.json against the schema')
    .action(() => {
      const { file, result } = checkSettings(home());
      if (!result.ok) {
        err(`${file} is not valid:\n${describeProblems(result.problems)}`);
        exitCode = EXIT.usage;
        return;
      }
      out(`${file} is valid: ${result.settings.sources.length} sources.`);
    });
  settings
    .command('show')
    .description('print the settings with every default filled in (secrets masked)')
    .action(() => {
      out(JSON.stringify(maskSecrets(validSettings(home())), null, 2));
    });

  const source = program
    .command('source')
    .description('list, add, change, test and remove sources');
  source
    .command('list')
    .description('the sources in settings')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => {
      const rows = validSettings(home()).sources.map((s) => ({
        id: s.id,
        kind: s.kind,
        enabled: s.enabled,
        schedule: s.schedule,
      }));
      if (options.json) {
        out(JSON.stringify(rows, null, 2));
        return;
      }
      for (const r of rows) {
        const when = `${r.schedule.cron}${r.schedule.timeZone ? ` (${r.schedule.timeZone})` : ''}`;
        out(
          `${r.id.padEnd(20)} ${r.kind.padEnd(18)} ${r.enabled ? 'enabled ' : 'disabled'} ${when}`,
        );
      }
      out(`kinds: ${[...builtInSources.values()].map((p) => p.kind).join(', ')}`);
    });
  source
    .command('add <kind>')
    .description('add a source; options are checked against its kind before anything is saved')
    .requiredOption('--id <id>', 'the new source id')
    .option('--set <key=value...>', 'an option (dots reach nested ones)')
    .option('--set-env <key=ENV_VAR...>', 'an option read from an environment variable')
    .option('--schedule <cron>', "when it captures (default: its kind's)")
    .option('--disabled', 'add it switched off')
    .action(
      async (kind: string, options: SourceEditOptions & { id: string; disabled?: boolean }) => {
        const plugin = builtInSources.get(kind);
        if (!plugin) {
          throw new UsageError(
            `no source kind "${kind}"; kinds: ${[...builtInSources.keys()].join(', ')}`,
          );
        }
        await editSettings(home(), (raw) => {
          const sources = sourceList(raw);
          if (sources.some((s) => s.id === options.id)) {
            throw new UsageError(`a source "${options.id}" exists already; use source set`);
          }
          const entry: Record<string, unknown> = {
            id: options.id,
            kind,
            enabled: !options.disabled,
          };
          if (options.schedule) entry.schedule = { cron: options.schedule };
          const sourceOptions: Record<string, unknown> = {};
          applyAssignments(plugin, sourceOptions, assignments(options));
          entry.options = sourceOptions;
          sources.push(entry);
        });
        out(`added source ${options.id} (${kind})`);
      },
    );
  source
    .command('set <id> [key=value...]')
    .description('change options, schedule or state of a source')
    .option('--set-env <key=ENV_VAR...>', 'an option read from an environment variable')
    .option('--schedule <cron>', 'when it captures')
    .option('--enable', 'switch it on')
    .option('--disable', 'switch it off')
    .action(
      async (
        id: string,
        words: string[],
        options: SourceEditOptions & { enable?: boolean; disable?: boolean },
      ) => {
        if (options.enable && options.disable)
          throw new UsageError('--enable or --disable, not both');
        await editSettings(home(), (raw) => {
          const entry = sourceList(raw).find((s) => s.id === id);
          if (!entry) throw new UsageError(`no source "${id}" in settings`);
          const plugin = builtInSources.get(String(entry.kind));
          if (!plugin)
            throw new UsageError(`source "${id}" has an unknown kind "${String(entry.kind)}"`);
          if (options.enable) entry.enabled = true;
          if (options.disable) entry.enabled = false;
          if (options.schedule) entry.schedule = { cron: options.schedule };
          const current = entry.options;
          const sourceOptions = (
            current !== null && typeof current === 'object' ? current : {}
          ) as Record<string, unknown>;
          applyAssignments(plugin, sourceOptions, assignments({ ...options, set: words }));
          entry.options = sourceOptions;
        });
        out(`changed source ${id}`);
      },
    );
  source
    .command('remove <id>')
    .description('remove a source from settings (what it recorded stays in the journal)')
    .action(async (id: string) => {
      await editSettings(home(), (raw) => {
        const sources = sourceList(raw);
        const at = sources.findIndex((s) => s.id === id);
        if (at < 0) throw new UsageError(`no source "${id}" in settings`);
        sources.splice(at, 1);
      });
      out(`removed source ${id}`);
    });
  source
    .command('test <id>')
    .description("check a source's connection and show what it would record, storing nothing")
    .action(async (id: string) => {
      const agent = await openAgent(home());
      try {
        if (!agent.settings.sources.some((s) => s.id === id)) {
          throw new UsageError(`no source "${id}" in settings`);
        }
        const diagnosis = await agent.testSource(id);
        out(`${id}: ${diagnosis.code}: ${diagnosis.message}`);
        if (diagnosis.count !== undefined) out(`  records: ${diagnosis.count}`);
        if (diagnosis.sample) out(`  sample: ${JSON.stringify(diagnosis.sample)}`);
        exitCode = diagnosis.ok ? EXIT.ok : EXIT.failed;
      } finally {
        agent.close();
      }
    });

  const db = program.command('db').description("the company's SQL Server store");
  db.command('init')
    .description('create or update the schema (yearly partitions, procedures, views); re-runnable')
    .option('--reapply', 'run every script again (they are re-runnable)')
    .action(async (options: { reapply?: boolean }) => {
      await withSqlServer(home(), async (_agent, mssql) => {
        const report = await initDatabase(mssql, { reapply: options.reapply === true });
        if (report.applied.length === 0)
          out(`schema is up to date (version ${report.schemaVersion})`);
        for (const script of report.applied)
          out(`applied ${script.name} (version ${script.version})`);
      });
    });
  db.command('status')
    .description("schema version, every year's partition with row counts, the forwarder's lag")
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      await withSqlServer(home(), async (agent, mssql) => {
        const status = await databaseStatus(mssql, { journal: journalFeed(agent.journal) });
        if (options.json) {
          out(JSON.stringify(status, null, 2));
          return;
        }
        out(
          `schema version: ${status.schemaVersion ?? 'none (run db init)'} ` +
            `(this AutoLogging: ${status.knownVersion})`,
        );
        out('partitions:');
        for (const p of status.partitions) {
          const range = p.year !== null ? String(p.year) : `${iso(p.from)} .. ${iso(p.to)}`;
          const rows = Object.entries(p.rows)
            .map(([t, n]) => `${t} ${n}`)
            .join(', ');
          out(`  #${p.number} ${range.padEnd(12)} ${String(p.total).padStart(10)} rows (${rows})`);
        }
        const f = status.forwarder;
        out(
          f
            ? `forwarder ${f.agent}: ${f.records} records stored, last ${iso(f.storedAt)}; ` +
                `lag ${f.lag.records} records` +
                (f.lag.ageMs !== null ? `, oldest ${Math.round(f.lag.ageMs / 1000)} s` : '')
            : 'forwarder: nothing stored yet',
        );
      });
    });
  db.command('maintain')
    .description("add next years' partitions while empty, remove years past the retention")
    .action(async () => {
      await withSqlServer(home(), async (_agent, mssql) => {
        const report = await maintainDatabase(mssql);
        out(`years added: ${report.split.map(iso).join(', ') || 'none'}`);
        out(`years removed: ${report.merged.map(iso).join(', ') || 'none'}`);
        for (const r of report.refused) out(`not added ${iso(r.boundary)}: ${r.reason}`);
      });
    });

  registerProtectCommands(program, { home, setExitCode: (code) => (exitCode = code) });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    return reportFailure(error);
  }
}

/** Runs `work` with the agent's settings when a SQL Server is configured; exit 2 otherwise. */
async function withSqlServer(
  home: string,
  work: (agent: Agent, mssql: MssqlSettings) => Promise<void>,
): Promise<void> {
  const agent = await openAgent(home);
  try {
    const mssql = agent.settings.mssql;
    if (!mssql) {
      throw new SettingsError(
        'no SQL Server is configured: add an "mssql" section to settings.json (see sql/README.md)',
        { code: 'ENOMSSQL' },
      );
    }
    await work(agent, mssql);
  } finally {
    agent.close();
  }
}

function iso(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().slice(0, 10);
}

/** Options shared by `source add` and `source set`. */
interface SourceEditOptions {
  set?: string[];
  setEnv?: string[];
  schedule?: string;
}

function assignments(options: SourceEditOptions): Assignment[] {
  return [
    ...parseAssignments(options.set ?? []),
    ...readEnvAssignments(options.setEnv ?? [], process.env),
  ];
}

function sourceList(raw: Record<string, unknown>): Array<Record<string, unknown>> {
  if (!Array.isArray(raw.sources)) raw.sources = [];
  return raw.sources as Array<Record<string, unknown>>;
}

/**
 * Changes settings.json with `change`, then validates the result with secrets moved into the
 * vault; only a valid result is saved (settings and vault together), then audited
 * (`settings.change`, names only). A running agent picks the change up by itself.
 */
async function editSettings(
  home: string,
  change: (raw: Record<string, unknown>) => void,
): Promise<void> {
  const paths = homePaths(home);
  ensurePrivateDir(home);
  const raw = (
    fs.existsSync(paths.settings) ? readJsonFile(paths.settings) : defaultSettings()
  ) as Record<string, unknown>;
  const before = structuredClone(raw);
  change(raw);
  const after = structuredClone(raw);
  const cipher = new FieldCipher(await unlockKeys(home));
  const vault = SecretVault.open(home, cipher);
  sealSecrets(raw, vault);
  const result = validateSettings(resolveSecrets(raw, vault), builtInSources);
  if (!result.ok) {
    throw new SettingsError(`not saved:\n${describeProblems(result.problems)}`);
  }
  vault.save();
  writeFileAtomic(paths.settings, JSON.stringify(raw, null, 2) + '\n');
  const journal = Journal.open(paths.journal, cipher);
  try {
    auditSettingsChange(journal, { before, after }, currentActor(), 'cli');
  } finally {
    journal.close();
  }
}

/** Prints a failure once, with its code, and returns the exit code it deserves. */
function reportFailure(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  err(`error ${describeError(error)}`);
  if (error instanceof SettingsError || error instanceof UsageError) return EXIT.usage;
  return EXIT.failed;
}

function exportDays(options: { date?: string; from?: string; to?: string }): string[] {
  const check = (flag: string, value: string | undefined) => {
    if (value !== undefined && !parseDay(value)) {
      throw new UsageError(`--${flag} ${JSON.stringify(value)} is not a calendar day YYYY-MM-DD`);
    }
    return value;
  };
  const date = check('date', options.date);
  const from = check('from', options.from);
  const to = check('to', options.to);
  if (date && !from && !to) return [date];
  if (!date && from && to) {
    if (from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
    const days = daysBetween(from, to);
    if (days.length > 3660) throw new UsageError('a range may span at most 3660 days');
    return days;
  }
  throw new UsageError('give either --date YYYY-MM-DD, or --from YYYY-MM-DD and --to YYYY-MM-DD');
}

/** The explicit window of `capture --since/--until`, if asked for. */
function captureWindow(
  options: { since?: string; until?: string },
  timeZone: string,
): CaptureWindow | undefined {
  if (options.since === undefined) {
    if (options.until !== undefined) throw new UsageError('--until needs --since');
    return undefined;
  }
  const since = parseTime('since', options.since, timeZone);
  const until =
    options.until === undefined ? Date.now() : parseTime('until', options.until, timeZone);
  if (since >= until) throw new UsageError(`--since ${options.since} is not before --until`);
  return { since, until };
}

/** An ISO 8601 time with a zone, or a calendar day (its midnight in `timeZone`). */
function parseTime(flag: string, text: string, timeZone: string): number {
  if (parseDay(text)) return dayRange(text, timeZone).start;
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)
    ? Date.parse(text)
    : NaN;
  if (Number.isNaN(ms)) {
    throw new UsageError(
      `--${flag} ${JSON.stringify(text)} is not a time: give YYYY-MM-DD or an ISO 8601 time ` +
        'with a zone, e.g. 2026-12-03T09:00:00+09:00',
    );
  }
  return ms;
}

/** A logger writing to the data folder's log files and, for `run`, to the console. */
function agentLogger(home: string, console: boolean) {
  const paths = homePaths(home);
  ensurePrivateDir(home);
  const sinks: LogSink[] = [fileSink(paths.logs)];
  if (console) sinks.push((e: LogEntry) => err(formatEntry(e)));
  let level: LogLevel = 'info';
  try {
    const raw = JSON.parse(fs.readFileSync(paths.settings, 'utf8')) as {
      logs?: { level?: LogLevel };
    };
    level = raw.logs?.level ?? level;
  } catch {
    // No settings yet, or unreadable: they are checked properly when the agent opens them.
  }
  return createLogger(teeSink(...sinks), level);
}

/**
 * Opens the agent of data folder `home`. On Windows the keys are unlocked through DPAPI, which
 * runs PowerShell and so is asynchronous; elsewhere the keyring opens as it is.
 */
async function openAgent(home: string, console = false): Promise<Agent> {
  const keys = await unlockKeys(home);
  return Agent.open({ home, log: agentLogger(home, console), keys });
}

/** The keys of `home`: through DPAPI on Windows, else the passphrase or key file. */
async function unlockKeys(home: string): Promise<Keys> {
  const passphrase = process.env.AUTOLOGGING_PASSPHRASE;
  ensurePrivateDir(home);
  const dpapi = windowsDpapi(runCommand);
  if (dpapi) return (await Keyring.unlock({ home, passphrase, dpapi })).keys();
  return openKeyring({ home, passphrase });
}

async function runAgent(home: string): Promise<number> {
  const agent = await openAgent(home, true);
  try {
    agent.start();
  } catch (error) {
    agent.journal.close();
    throw error;
  }
  // Owner-only data folder (an ACL on Windows), checked at every start.
  secureHome(home, { run: runCommand }).catch((error: unknown) =>
    err(`could not restrict the data folder to its owner: ${describeError(error)}`),
  );

  out(`AutoLogging ${VERSION} is running (pid ${process.pid}).`);
  if (agent.firstRun) out(`First run: default settings were written; the demo site is enabled.`);
  out(`  settings: ${agent.paths.settings}`);
  out(`  journal:  ${agent.paths.journal}`);
  out(`  Excel:    ${agent.exportsFolder}`);
  out(`  logs:     ${agent.paths.logs}`);
  const link = await serveWindow(agent, agentLogger(home, true));
  for (const line of link.lines) out(line);
  out(`Stop with Ctrl+C.`);

  // Settings changed by `source add/set`, the window or an editor apply without a restart.
  const reload = () => {
    try {
      agent.reload();
    } catch (error) {
      err(`settings not applied, the previous ones stay in force: ${describeError(error)}`);
    }
  };
  fs.watchFile(agent.paths.settings, { interval: 1000 }, (now, before) => {
    if (now.mtimeMs !== before.mtimeMs) reload();
  });
  process.on('SIGHUP', reload);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      out(`${signal}: stopping; jobs in progress finish or are rolled back.`);
      void Promise.resolve(link.server?.close())
        .then(() => agent.stop())
        .then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  fs.unwatchFile(agent.paths.settings);
  out('AutoLogging stopped.');
  return EXIT.ok;
}

/** What `status` reports. */
interface Status {
  home: string;
  agent: { running: boolean; pid: number | null; startedAt: string | null; version: string | null };
  timeZone: string;
  jobs: Array<{
    job: string;
    enabled: boolean;
    next: string | null;
    last: { at: string; outcome: string; errorCode: string | null; recordsNew: number } | null;
  }>;
  records: { sessions: number; events: number; hostLoad: number; runs: number };
  journalBytes: number;
  /** The SQL Server forwarder as the running agent last reported it. */
  forwarder: AgentInfo['forwarder'] | null;
  problems?: string;
}

function readStatus(home: string): Status {
  const paths = homePaths(home);
  const info = readAgentInfo(paths);
  const loaded = fs.existsSync(paths.settings) ? checkSettings(home).result : null;
  const settings = loaded?.ok ? loaded.settings : null;
  const timeZone = settings?.timeZone ?? systemTimeZone();
  const journal = fs.existsSync(paths.journal) ? Journal.open(paths.journal, null) : null;
  try {
    const last = new Map((journal?.lastRuns() ?? []).map((r) => [r.job, r]));
    const planned: Array<{
      job: string;
      enabled: boolean;
      cron?: { cron: string; timeZone?: string | undefined };
    }> = [
      ...(settings?.sources ?? []).map((s) => ({
        job: `capture:${s.id}`,
        enabled: s.enabled,
        cron: s.schedule,
      })),
      ...(settings
        ? [{ job: 'export', enabled: settings.excel.enabled, cron: settings.excel.schedule }]
        : []),
      ...(settings
        ? [{ job: 'maintenance', enabled: true, cron: settings.maintenance.schedule }]
        : []),
    ];
    for (const job of last.keys()) {
      if (!planned.some((p) => p.job === job)) planned.push({ job, enabled: false });
    }
    const stats = journal?.stats() ?? { sessions: 0, events: 0, hostLoad: 0, runs: 0, bytes: 0 };
    const { bytes, ...records } = stats;
    return {
      home,
      agent: {
        running: info !== null,
        pid: info?.pid ?? null,
        startedAt: info ? new Date(info.startedAt).toISOString() : null,
        version: info?.version ?? null,
      },
      timeZone,
      jobs: planned.map((p) => {
        const run = last.get(p.job);
        return {
          job: p.job,
          enabled: p.enabled,
          next:
            p.enabled && p.cron && info
              ? new Date(nextRuns(p.cron, timeZone, Date.now())[0]!).toISOString()
              : null,
          last: run
            ? {
                at: new Date(run.startedAt).toISOString(),
                outcome: run.outcome,
                errorCode: run.errorCode,
                recordsNew: run.recordsNew,
              }
            : null,
        };
      }),
      records,
      journalBytes: bytes,
      forwarder: info?.forwarder ?? null,
      ...(loaded && !loaded.ok ? { problems: describeProblems(loaded.problems) } : {}),
    };
  } finally {
    journal?.close();
  }
}

function printStatus(s: Status): void {
  out(`data folder: ${s.home}`);
  out(
    s.agent.running
      ? `agent: running (pid ${s.agent.pid}, since ${s.agent.startedAt}, ` +
          `version ${s.agent.version})`
      : 'agent: not running',
  );
  out(`time zone: ${s.timeZone}`);
  if (s.problems) out(`settings problems:\n${s.problems}`);
  out('jobs:');
  for (const j of s.jobs) {
    const last = j.last
      ? `last ${j.last.at} ${j.last.outcome}` +
        `${j.last.errorCode ? ` ${j.last.errorCode}` : ''} (+${j.last.recordsNew})`
      : 'never run';
    const next = j.enabled ? (j.next ? `next ${j.next}` : 'next: when the agent runs') : 'disabled';
    out(`  ${j.job.padEnd(24)} ${last}; ${next}`);
  }
  const r = s.records;
  out(
    `records: ${r.sessions} sessions, ${r.events} events, ` +
      `${r.hostLoad} host samples, ${r.runs} runs`,
  );
  out(`journal size: ${(s.journalBytes / 1024 / 1024).toFixed(2)} MiB`);
  const f = s.forwarder;
  if (f) {
    const lag = f.lag ? `, lag ${f.lag.records} records` : '';
    const error = f.lastError ? `, last error ${f.lastError.code}: ${f.lastError.message}` : '';
    out(`SQL Server forwarder: ${f.state} since ${new Date(f.since).toISOString()}${lag}${error}`);
  }
}

function describeResult(r: JobResult, day?: string): string {
  const what = day ? `${r.job} ${day}` : r.job;
  if (r.outcome === 'ok' && r.file) return `${what}: ok, ${r.recordsIn} rows -> ${r.file}`;
  if (r.outcome === 'ok') {
    return `${what}: ok, ${r.recordsIn} in, ${r.recordsNew} new, ${r.recordsUpdated} updated`;
  }
  return `${what}: ${r.outcome} ${r.error?.code}: ${r.error?.message}`;
}

/**
 * Validates settings.json of `home` as it stands, secrets standing in as `***`, so that no
 * key is needed to check or show it.
 */
function checkSettings(home: string): { file: string; result: Validation } {
  const file = homePaths(home).settings;
  return { file, result: validateSettings(placeholderSecrets(readJsonFile(file)), builtInSources) };
}

/** The settings of `home` with defaults filled in; throws `SettingsError` when not valid. */
function validSettings(home: string): Settings {
  const { result } = checkSettings(home);
  if (!result.ok) throw new SettingsError(describeProblems(result.problems));
  return result.settings;
}

function readJsonFile(file: string): unknown {
  if (!fs.existsSync(file)) {
    throw new SettingsError(`no settings file at ${file}; 'autologging run' writes the defaults`, {
      code: 'ENOSETTINGS',
    });
  }
  return parseSettingsJson(file, fs.readFileSync(file, 'utf8'));
}
