import fs from 'node:fs';
import path from 'node:path';
import { FieldCipher } from './crypto/field-cipher.ts';
import { openKeyring, type Keys } from './crypto/keyring.ts';
import {
  AutoLoggingError,
  SettingsError,
  SourceError,
  describeError,
  errorCode,
  throwIfAborted,
} from './errors.ts';
import { writeDailyWorkbook } from './excel/workbook.ts';
import { Journal, type Trigger } from './journal/journal.ts';
import { pruneLogs, type Logger } from './log/logger.ts';
import {
  acquireAgentLock,
  isAlive,
  releaseAgentLock,
  writeAgentInfo,
} from './platform/agent-lock.ts';
import { runCommand, type CommandRunner } from './platform/command.ts';
import { ensurePrivateDir, writeFileAtomic } from './platform/files.ts';
import { homePaths, type HomePaths } from './platform/paths.ts';
import { currentActor } from './protect/audit.ts';
import { Scheduler, type JobSpec } from './schedule/scheduler.ts';
import { validateSettings, type Settings, type SourceSettings } from './settings/schema.ts';
import {
  SecretVault,
  placeholderSecrets,
  resolveSecrets,
  sealSecrets,
} from './settings/secrets.ts';
import { auditSettingsChange } from './settings/changes.ts';
import { describeProblems, loadSettings, parseSettingsJson } from './settings/store.ts';
import {
  createMssqlForwarder,
  maintainDatabase,
  type Forwarder,
  type ForwarderStatus,
  type MssqlSettings,
} from './sinks/mssql/index.ts';
import { sampleHost, hostMetricsSource } from './sources/host-metrics/index.ts';
import { builtInSources } from './sources/registry.ts';
import { diagnose } from './sources/shared/diagnose.ts';
import type {
  CaptureWindow,
  Diagnosis,
  SourceContext,
  SourcePlugin,
  SourceProblem,
} from './sources/types.ts';
import { addDays, dayOf, dayRange, systemTimeZone } from './time.ts';
import { VERSION } from './version.ts';

/** What the agent needs from its surroundings; tests replace the clock, runner and platform. */
export interface AgentOptions {
  home: string;
  log: Logger;
  plugins?: ReadonlyMap<string, SourcePlugin<unknown>>;
  /** `AUTOLOGGING_PASSPHRASE`, when set. */
  passphrase?: string | undefined;
  /** Keys already unlocked (`Keyring.unlock`, which DPAPI needs); else the keyring is opened. */
  keys?: Keys | undefined;
  now?: () => number;
  run?: CommandRunner;
  platform?: NodeJS.Platform;
}

/** How one job ended. */
export interface JobResult {
  job: string;
  outcome: 'ok' | 'failed' | 'aborted';
  recordsIn: number;
  recordsNew: number;
  recordsUpdated: number;
  /** For an export: the workbook written. */
  file?: string;
  error?: { code: string; message: string };
}

/** How long `stop` lets running jobs finish before it aborts them. */
const STOP_GRACE_MS = 15_000;

/**
 * AutoLogging: loads settings and keys, owns the journal, runs captures, exports and
 * maintenance, on schedule (`start`) or on demand. Every job writes a `runs` row, and a
 * failed job never stops the others.
 */
export class Agent {
  readonly paths: HomePaths;
  #settings: Settings;
  readonly journal: Journal;
  /** Encrypts and decrypts with the keys the agent was opened with (OTP state, exports). */
  readonly cipher: FieldCipher;
  #timeZone: string;
  /** True when this start wrote the default settings. */
  readonly firstRun: boolean;
  readonly #log: Logger;
  readonly #plugins: ReadonlyMap<string, SourcePlugin<unknown>>;
  readonly #now: () => number;
  readonly #run: CommandRunner;
  readonly #platform: NodeJS.Platform;
  readonly #abort = new AbortController();
  readonly #vault: SecretVault;
  #scheduler: Scheduler | null = null;
  #forwarding: Forwarding | null = null;
  #startedAt = 0;
  #publisher: NodeJS.Timeout | null = null;
  #catchUp: Promise<void> | null = null;
  #linkAddress: string | null = null;

  private constructor(
    options: AgentOptions,
    settings: Settings,
    firstRun: boolean,
    journal: Journal,
    vault: SecretVault,
    cipher: FieldCipher,
  ) {
    this.#vault = vault;
    this.cipher = cipher;
    this.paths = homePaths(options.home);
    this.#settings = settings;
    this.firstRun = firstRun;
    this.journal = journal;
    this.#timeZone = settings.timeZone ?? systemTimeZone();
    this.#log = options.log;
    this.#plugins = options.plugins ?? builtInSources;
    this.#now = options.now ?? Date.now;
    this.#run = options.run ?? runCommand;
    this.#platform = options.platform ?? process.platform;
  }

  /**
   * Opens the data folder `home` (created owner-only when missing), its settings (the
   * defaults written on first run), keys and journal. Throws `SettingsError`, `CryptoError`
   * or `JournalError`.
   */
  static open(options: AgentOptions): Agent {
    const paths = homePaths(options.home);
    ensurePrivateDir(paths.home);
    const plugins = options.plugins ?? builtInSources;
    const keys = options.keys ?? openKeyring({ home: paths.home, passphrase: options.passphrase });
    const cipher = new FieldCipher(keys);
    const vault = SecretVault.open(paths.home, cipher);
    const { settings, created } = loadSettings(paths.settings, plugins, {
      prepare: (raw) => prepareWithVault(raw, vault),
    });
    const journal = Journal.open(paths.journal, cipher, options.now);
    return new Agent(options, settings, created, journal, vault, cipher);
  }

  /** The settings in force. */
  get settings(): Settings {
    return this.#settings;
  }

  /** The zone of schedules, day boundaries and Excel dates. */
  get timeZone(): string {
    return this.#timeZone;
  }

  /**
   * Reads settings.json again and, when it is valid, applies it at once: sources, schedules,
   * Excel and log settings; jobs in progress finish with the settings they started with.
   * Throws `SettingsError` and keeps the settings in force when the file is not valid.
   */
  reload(): void {
    const { settings } = loadSettings(this.paths.settings, this.#plugins, {
      createIfMissing: false,
      prepare: (raw) => prepareWithVault(raw, this.#vault),
    });
    const mssqlChanged = mssqlIdentity(settings) !== mssqlIdentity(this.#settings);
    this.#settings = settings;
    this.#timeZone = settings.timeZone ?? systemTimeZone();
    this.#scheduler?.replaceAll(this.jobs(), this.#timeZone);
    if (this.#scheduler && mssqlChanged) {
      void this.#forwarding?.stop();
      this.#forwarding = settings.mssql ? this.#startForwarding(settings.mssql) : null;
    }
    this.#log.info('settings applied', { sources: settings.sources.length });
  }

  /**
   * Saves `raw` as settings.json and applies it at once, when it validates. Plain secrets in it
   * move into the encrypted vault first; `{ "$secret": name }` references stay. Throws
   * `SettingsError` `ESETTINGS` carrying `problems`, and writes nothing, when it does not
   * validate. A change is audited (`settings.change`: `actor`, default the OS account running
   * the agent, and the sections and source ids touched, never a value; subject `window`, the
   * one caller).
   */
  saveSettings(raw: Record<string, unknown>, actor = currentActor()): void {
    const refuse = (problems: Parameters<typeof describeProblems>[0]) =>
      Object.assign(new SettingsError(`not saved:\n${describeProblems(problems)}`), { problems });
    const checked = validateSettings(placeholderSecrets(raw), this.#plugins);
    if (!checked.ok) throw refuse(checked.problems);
    const before = this.#rawSettings();
    const after = structuredClone(raw);
    sealSecrets(raw, this.#vault);
    const result = validateSettings(resolveSecrets(raw, this.#vault), this.#plugins);
    if (!result.ok) throw refuse(result.problems);
    this.#vault.save();
    writeFileAtomic(this.paths.settings, JSON.stringify(raw, null, 2) + '\n');
    auditSettingsChange(this.journal, { before, after }, actor, 'window');
    this.reload();
  }

  /** settings.json as written, or nothing when it is missing or unreadable. */
  #rawSettings(): Record<string, unknown> {
    try {
      const text = fs.readFileSync(this.paths.settings, 'utf8');
      return parseSettingsJson(this.paths.settings, text) as Record<string, unknown>;
    } catch {
      return {};
    }
  }

  /** The window bridge's RPC address, published in agent.json for `link` and local tools. */
  set linkAddress(address: string | null) {
    this.#linkAddress = address;
    if (this.#startedAt) this.#publish();
  }

  /**
   * Tests source `id` without storing anything: the source's own connection test when it has
   * one, else a capture from its current position whose records are counted and one shown,
   * personal fields masked. Never throws for a source failure: it becomes the diagnosis.
   */
  async testSource(id: string, signal: AbortSignal = this.#abort.signal): Promise<Diagnosis> {
    const entry = this.#sourceEntry(id);
    const source = this.#plugins
      .get(entry.kind)!
      .create(entry.options, this.#sourceContext(id, this.#log.child(`source.${id}`)));
    try {
      await source.open(signal);
      if (source.test) return await source.test(signal);
      return await diagnose(() => source.capture(this.journal.cursor(id), signal), {
        reached: `${entry.kind} answered`,
        empty: 'nothing new to record yet',
        noun: 'records',
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { ok: false, code: errorCode(error), message };
    } finally {
      await source.close();
    }
  }

  /** The folder the daily workbooks go to. */
  get exportsFolder(): string {
    return path.resolve(this.paths.home, this.settings.excel.folder);
  }

  /** The path of the workbook of `day`. */
  workbookPath(day: string): string {
    return path.join(this.exportsFolder, day.slice(0, 4), `${day}.xlsx`);
  }

  /** The sources that are enabled in settings. */
  enabledSources(): SourceSettings[] {
    return this.settings.sources.filter((s) => s.enabled);
  }

  /**
   * Captures once from source `id` and stores what it returns in one transaction. On
   * failure the run is recorded as failed with its error code, this host's load is sampled
   * with its busiest processes, and nothing of the failed capture is stored.
   */
  async capture(
    id: string,
    trigger: Trigger,
    options: { window?: CaptureWindow; signal?: AbortSignal } = {},
  ): Promise<JobResult> {
    const entry = this.settings.sources.find((s) => s.id === id);
    if (!entry) {
      throw new AutoLoggingError(
        'ENOSOURCE',
        `no source with id ${JSON.stringify(id)} in settings`,
      );
    }
    const signal = options.signal ?? this.#abort.signal;
    const job = `capture:${id}`;
    const runId = this.journal.startRun(job, 'capture', id, trigger);
    const log = this.#log.child(`source.${id}`);
    const plugin = this.#plugins.get(entry.kind)!;
    const source = plugin.create(entry.options, this.#sourceContext(id, log));
    const totals = { recordsIn: 0, recordsNew: 0, recordsUpdated: 0 };
    const rejected: SourceProblem[] = [];
    try {
      await source.open(signal);
      // A long backfill comes in parts, each stored in its own transaction with its cursor,
      // so a stop or crash half-way keeps what was stored and resumes after it.
      for (let more = true; more;) {
        const cursor = options.window ? null : this.journal.cursor(id);
        const captured = await source.capture(cursor, signal, options.window);
        throwIfAborted(signal, job);
        const next = options.window ? undefined : captured.cursor;
        const applied = this.journal.applyCapture(id, captured.records, next);
        totals.recordsIn += applied.in;
        totals.recordsNew += applied.new;
        totals.recordsUpdated += applied.updated;
        rejected.push(...(captured.rejected ?? []));
        more = captured.more === true && !captured.rejected?.length;
        if (more && options.window && captured.cursor !== null) {
          options = { ...options, window: { ...options.window, since: Number(captured.cursor) } };
        }
      }
      if (rejected.length) throw new RejectedRecordsError(id, rejected);
      const result: JobResult = { job, outcome: 'ok', ...totals };
      this.journal.finishRun(runId, { ...totals, outcome: 'ok' });
      if (totals.recordsNew + totals.recordsUpdated > 0) this.#forwarding?.wake();
      log.info('capture stored', {
        in: totals.recordsIn,
        new: totals.recordsNew,
        updated: totals.recordsUpdated,
      });
      return result;
    } catch (error) {
      const result = this.#failed(runId, job, error, totals);
      log.error('capture failed', { error: describeError(error) });
      if (result.outcome === 'failed' && entry.kind !== hostMetricsSource.kind) {
        await this.#sampleOnFailure(result.error!.code);
      }
      return result;
    } finally {
      await source.close();
    }
  }

  /** Captures from each of `ids` (default: every enabled source) in turn. */
  async captureAll(
    trigger: Trigger,
    ids?: readonly string[],
    window?: CaptureWindow,
  ): Promise<JobResult[]> {
    const results: JobResult[] = [];
    for (const id of ids ?? this.enabledSources().map((s) => s.id)) {
      results.push(await this.capture(id, trigger, window ? { window } : {}));
    }
    return results;
  }

  /**
   * Writes the workbook of calendar day `day` (in the configured zone) from what the journal
   * holds, replacing an older one only once the new one is complete.
   */
  async exportDay(
    day: string,
    trigger: Trigger,
    signal: AbortSignal = this.#abort.signal,
  ): Promise<JobResult> {
    const job = 'export';
    const runId = this.journal.startRun(job, 'export', null, trigger);
    try {
      const range = dayRange(day, this.timeZone);
      // With an Excel password the workbook is encrypted to open, so it may show plain values.
      const password = this.settings.excel.password;
      const display = password ? 'plain' : 'pseudonym';
      const written = await writeDailyWorkbook({
        file: this.workbookPath(day),
        day,
        timeZone: this.timeZone,
        language: this.settings.excel.language,
        sessions: this.journal.sessions(range, display),
        events: this.journal.events(range, display),
        hostLoad: this.journal.hostLoad(range),
        generatedAt: this.#now(),
        signal,
        password,
      });
      this.journal.recordExport(day, written.file, written);
      const total = written.sessions + written.events + written.hostLoad;
      const result: JobResult = {
        job,
        outcome: 'ok',
        recordsIn: total,
        recordsNew: total,
        recordsUpdated: 0,
        file: written.file,
      };
      this.journal.finishRun(runId, { ...result, outcome: 'ok', detail: `${day} ${written.file}` });
      this.#log.child('excel').info('workbook written', { ...written, day });
      return result;
    } catch (error) {
      const result = this.#failed(runId, job, error);
      this.#log.child('excel').error('workbook failed', { day, error: describeError(error) });
      return result;
    }
  }

  /**
   * Writes the missing workbooks of past days that hold data, oldest first, looking back
   * `excel.catchUpDays` days. Today is not exported: its day is not over.
   */
  async exportMissing(trigger: Trigger = 'catch-up'): Promise<JobResult[]> {
    const results: JobResult[] = [];
    const earliest = this.journal.earliest();
    if (!this.settings.excel.enabled || earliest === null) return results;
    const today = dayOf(this.#now(), this.timeZone);
    const horizon = addDays(today, -this.settings.excel.catchUpDays);
    const first = dayOf(earliest, this.timeZone);
    for (let day = first > horizon ? first : horizon; day < today; day = addDays(day, 1)) {
      if (this.#abort.signal.aborted) break;
      if (fs.existsSync(this.workbookPath(day))) continue;
      if (!this.journal.hasData(dayRange(day, this.timeZone))) continue;
      results.push(await this.exportDay(day, trigger));
    }
    return results;
  }

  /** Folds the journal's WAL, refreshes its statistics and removes old logs and stale temp files. */
  async maintain(trigger: Trigger): Promise<JobResult> {
    const job = 'maintenance';
    const runId = this.journal.startRun(job, 'maintenance', null, trigger);
    try {
      const retained = this.journal.retain(this.settings.journal.retentionYears, this.#now());
      this.journal.maintain();
      const logs = pruneLogs(this.paths.logs, this.settings.logs.keepDays, this.#now());
      const temps = removeStaleTempFiles(this.exportsFolder, this.#now());
      const sql = this.settings.mssql
        ? await maintainDatabase(this.settings.mssql, {
            now: this.#now,
            log: this.#log.child('mssql'),
          })
        : null;
      const result: JobResult = {
        job,
        outcome: 'ok',
        recordsIn: 0,
        recordsNew: 0,
        recordsUpdated: 0,
      };
      const sqlDetail = sql
        ? `; SQL Server years added ${sql.split.length}, removed ${sql.merged.length}` +
          (sql.refused.length ? `, refused ${sql.refused.length}` : '')
        : '';
      this.journal.finishRun(runId, {
        outcome: 'ok',
        detail:
          `journal years removed ${retained.droppedYears.join(' ') || 'none'}, ` +
          `logs removed ${logs}, temp files removed ${temps}${sqlDetail}`,
      });
      return result;
    } catch (error) {
      return this.#failed(runId, job, error);
    }
  }

  /**
   * Starts the agent: takes the data folder's lock, marks runs of a killed agent as
   * interrupted, schedules every job, then catches up: each enabled source captures from its
   * high-water mark and missing workbooks are written. Throws `EAGENTRUNNING` when another
   * agent holds the folder.
   */
  start(): void {
    acquireAgentLock(this.paths);
    this.#startedAt = this.#now();
    this.#publish();
    // What `autologging status` shows of the forwarder comes from here, every few seconds.
    this.#publisher = setInterval(() => this.#forwarding && this.#publish(), 5_000);
    this.#publisher.unref();
    const interrupted = this.journal.interruptStaleRuns(isAlive);
    if (interrupted) this.#log.warn('runs of an earlier agent were interrupted', { interrupted });

    this.#scheduler = new Scheduler(this.#timeZone, this.#log.child('schedule'));
    this.#scheduler.replaceAll(this.jobs());
    if (this.settings.mssql) this.#forwarding = this.#startForwarding(this.settings.mssql);
    this.#catchUp = this.#runCatchUp();
  }

  /** The scheduled jobs that settings describe. */
  jobs(): JobSpec[] {
    const jobs: JobSpec[] = this.enabledSources().map((source) => ({
      name: `capture:${source.id}`,
      schedule: source.schedule,
      run: async (trigger) => void (await this.capture(source.id, trigger)),
    }));
    if (this.settings.excel.enabled) {
      jobs.push({
        name: 'export',
        schedule: this.settings.excel.schedule,
        run: async (trigger) => {
          const yesterday = addDays(dayOf(this.#now(), this.timeZone), -1);
          await this.exportDay(yesterday, trigger);
        },
      });
    }
    jobs.push({
      name: 'maintenance',
      schedule: this.settings.maintenance.schedule,
      run: async (trigger) => void (await this.maintain(trigger)),
    });
    return jobs;
  }

  /** When each scheduled job fires next (epoch ms); empty before `start`. */
  nextRuns(): Record<string, number | null> {
    const scheduler = this.#scheduler;
    if (!scheduler) return {};
    return Object.fromEntries(scheduler.names().map((n) => [n, scheduler.next(n)]));
  }

  /** Resolves once the start-up catch-up has finished. */
  async caughtUp(): Promise<void> {
    await this.#catchUp;
  }

  /**
   * Stops the agent: no job starts any more; running jobs get `graceMs` to finish, then are
   * aborted (a capture that has not written yet writes nothing; a workbook in progress is
   * discarded). Then the journal is closed and the lock released.
   */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    const scheduler = this.#scheduler;
    const settled = Promise.allSettled([scheduler?.stop(), this.#catchUp]);
    const timer = setTimeout(() => this.#abort.abort(), graceMs);
    await settled;
    clearTimeout(timer);
    this.#abort.abort();
    if (this.#publisher) clearInterval(this.#publisher);
    await this.#forwarding?.stop();
    this.close();
  }

  /** Closes the journal and releases the lock, if held. */
  close(): void {
    this.journal.close();
    releaseAgentLock(this.paths);
  }

  /** The SQL Server forwarder's health, or null when no SQL Server is configured. */
  forwarderStatus(): ForwarderStatus | null {
    return this.#forwarding?.forwarder.status() ?? null;
  }

  /** Leaves a stopped forwarder's `stopped` state and forwards at once. */
  resumeForwarding(): void {
    this.#forwarding?.forwarder.resume();
    this.#forwarding?.wake();
  }

  /**
   * Forwards the journal to SQL Server in the background: at start, after every capture that
   * stored something, and every minute. A refused login or permission stops it (said once,
   * recorded as one failed run) until the settings change or `resumeForwarding`; captures go
   * on meanwhile. Runs are recorded when something was sent or the state changed, not for
   * every idle minute.
   */
  #startForwarding(settings: MssqlSettings): Forwarding {
    const log = this.#log.child('mssql');
    const forwarder = createMssqlForwarder(settings, this.journal, {
      log,
      hintFile: path.join(this.paths.home, 'mssql-forwarder.json'),
    });
    const abort = new AbortController();
    const stopAll = () => abort.abort();
    this.#abort.signal.addEventListener('abort', stopAll, { once: true });
    let wake: (() => void) | null = null;
    let lastFailure: string | null = null;

    const loop = async () => {
      while (!abort.signal.aborted) {
        const runId = this.journal.startRun('forward:mssql', 'forward', null, 'schedule');
        try {
          const report = await forwarder.forward(abort.signal);
          const sent = report.records + report.runs;
          if (sent > 0 || lastFailure) {
            this.journal.finishRun(runId, {
              outcome: 'ok',
              recordsIn: sent,
              recordsNew: report.inserted,
              recordsUpdated: report.updated,
            });
          } else {
            this.journal.discardRun(runId);
          }
          lastFailure = null;
        } catch (error) {
          if (abort.signal.aborted) {
            this.journal.discardRun(runId);
            break;
          }
          const code = errorCode(error);
          if (code !== lastFailure) {
            this.#failed(runId, 'forward:mssql', error);
            log.error('forwarding to SQL Server stopped', { error: describeError(error) });
          } else {
            this.journal.discardRun(runId);
          }
          lastFailure = code;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 60_000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          abort.signal.addEventListener('abort', () => wake?.(), { once: true });
        });
        wake = null;
      }
    };
    const running = loop();
    return {
      forwarder,
      wake: () => wake?.(),
      stop: async () => {
        abort.abort();
        this.#abort.signal.removeEventListener('abort', stopAll);
        await running;
        await forwarder.close();
      },
    };
  }

  /** Writes `agent.json`: who runs, since when, and the forwarder's health. */
  #publish(): void {
    const forwarder = this.forwarderStatus();
    writeAgentInfo(this.paths, {
      pid: process.pid,
      startedAt: this.#startedAt,
      version: VERSION,
      home: this.paths.home,
      ...(this.#linkAddress ? { address: this.#linkAddress } : {}),
      ...(forwarder ? { forwarder } : {}),
    });
  }

  async #runCatchUp(): Promise<void> {
    const scheduler = this.#scheduler!;
    for (const source of this.enabledSources()) {
      if (this.#abort.signal.aborted) return;
      await scheduler.runNow(`capture:${source.id}`, 'catch-up');
    }
    if (!this.#abort.signal.aborted) await this.exportMissing('catch-up');
  }

  #sourceEntry(id: string): SourceSettings {
    const entry = this.settings.sources.find((s) => s.id === id);
    if (!entry) {
      throw new AutoLoggingError(
        'ENOSOURCE',
        `no source with id ${JSON.stringify(id)} in settings`,
      );
    }
    return entry;
  }

  #sourceContext(id: string, log: Logger): SourceContext {
    return {
      id,
      log,
      timeZone: this.timeZone,
      now: this.#now,
      run: this.#run,
      platform: this.#platform,
    };
  }

  /** Samples this host with its busiest processes after a failed capture, and stores it. */
  async #sampleOnFailure(code: string): Promise<void> {
    const hostEntry = this.settings.sources.find((s) => s.kind === hostMetricsSource.kind);
    const id = hostEntry?.id ?? hostMetricsSource.kind;
    const log = this.#log.child(`source.${id}`);
    try {
      const options = hostMetricsSource.options.parse(hostEntry?.options ?? {});
      const record = await sampleHost(options, this.#sourceContext(id, log), {
        reason: 'failure',
        triggerCode: code,
        withProcesses: true,
      });
      this.journal.applyCapture(id, [record], undefined);
    } catch (error) {
      log.warnOnce('failure-sample', 'could not sample host load after a failure', {
        error: describeError(error),
      });
    }
  }

  #failed(
    runId: number,
    job: string,
    error: unknown,
    stored: { recordsIn: number; recordsNew: number; recordsUpdated: number } = {
      recordsIn: 0,
      recordsNew: 0,
      recordsUpdated: 0,
    },
  ): JobResult {
    const code = errorCode(error);
    const aborted = code === 'EABORTED';
    const message = error instanceof Error ? error.message : String(error);
    this.journal.finishRun(runId, {
      ...stored,
      outcome: aborted ? 'aborted' : 'failed',
      errorCode: code,
      errorMessage: message,
    });
    return { job, outcome: aborted ? 'aborted' : 'failed', ...stored, error: { code, message } };
  }
}

/** The SQL Server forwarder running in the background, with its controls. */
interface Forwarding {
  forwarder: Forwarder;
  /** Forwards now instead of at the next minute. */
  wake(): void;
  /** Stops forwarding and closes the connection. */
  stop(): Promise<void>;
}

/** What makes two SQL Server settings the same connection, password included (never shown). */
function mssqlIdentity(settings: Settings): string {
  const mssql = settings.mssql;
  if (!mssql) return '';
  return JSON.stringify({ ...mssql, password: mssql.password.reveal().toString('base64') });
}

/** Seals plain secrets of `raw` into the vault, then resolves every reference. */
function prepareWithVault(raw: Record<string, unknown>, vault: SecretVault) {
  // A secret typed into settings.json by hand moves into the vault at the next read.
  const rewrite = sealSecrets(raw, vault);
  vault.save();
  return { value: resolveSecrets(raw, vault), rewrite };
}

/** Removes workbook temp files (`.*.tmp`) older than an hour left by a crash; returns how many. */
function removeStaleTempFiles(folder: string, now: number): number {
  if (!fs.existsSync(folder)) return 0;
  let removed = 0;
  for (const entry of fs.readdirSync(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/^\..*\.tmp$/.test(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (now - fs.statSync(file).mtimeMs > 3_600_000) {
      fs.rmSync(file, { force: true });
      removed++;
    }
  }
  return removed;
}

/** A capture stored its good records but could not read others: the run counts as failed. */
class RejectedRecordsError extends SourceError {
  constructor(source: string, problems: readonly SourceProblem[]) {
    const first = problems[0]!;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    super(first.code, source, `good records were stored; rejected: ${first.message}${more}`);
  }
}
