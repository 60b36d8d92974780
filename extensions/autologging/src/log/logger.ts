import fs from 'node:fs';
import path from 'node:path';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** One log line, before it is written. Fields must never hold a secret or a personal value. */
export interface LogEntry {
  time: string;
  level: LogLevel;
  component: string;
  message: string;
  fields?: Record<string, unknown>;
}

/**
 * The logger every part of the agent receives. Components get a tagged child with
 * `child('journal')`; nothing outside the entry points writes to the console.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Logs a warning the first time `key` is seen, and nothing the times after. */
  warnOnce(key: string, message: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

/** Where log entries go. */
export type LogSink = (entry: LogEntry) => void;

/** Creates a logger writing entries at `level` or above to `sink`. */
export function createLogger(sink: LogSink, level: LogLevel = 'info', component = 'agent'): Logger {
  const said = new Set<string>();
  const make = (tag: string): Logger => {
    const emit = (lvl: LogLevel, message: string, fields?: Record<string, unknown>) => {
      if (LEVELS[lvl] < LEVELS[level]) return;
      const entry: LogEntry = {
        time: new Date().toISOString(),
        level: lvl,
        component: tag,
        message,
      };
      if (fields && Object.keys(fields).length > 0) entry.fields = fields;
      sink(entry);
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      warnOnce: (key, m, f) => {
        if (said.has(key)) return;
        said.add(key);
        emit('warn', m, f);
      },
      child: (name) => make(`${tag}.${name}`),
    };
  };
  return make(component);
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger(() => {}, 'error');

/** A logger that keeps its entries in memory, for tests. */
export function memoryLogger(level: LogLevel = 'debug'): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return Object.assign(
    createLogger((e) => entries.push(e), level),
    { entries },
  );
}

/** Formats an entry as one human-readable line. */
export function formatEntry(entry: LogEntry): string {
  const fields = entry.fields ? ' ' + JSON.stringify(entry.fields) : '';
  return `${entry.time} ${entry.level.toUpperCase().padEnd(5)} [${entry.component}] ${entry.message}${fields}`;
}

/**
 * A sink appending JSON lines to `<dir>/autologging-<yyyy-mm-dd>.log` (UTC day), one file a
 * day, created owner-only. Synchronous appends: a crash loses no line already logged.
 */
export function fileSink(dir: string): LogSink {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return (entry) => {
    const file = path.join(dir, `autologging-${entry.time.slice(0, 10)}.log`);
    fs.appendFileSync(file, JSON.stringify(entry) + '\n', { mode: 0o600 });
  };
}

/** Sends each entry to every sink. */
export function teeSink(...sinks: LogSink[]): LogSink {
  return (entry) => {
    for (const sink of sinks) sink(entry);
  };
}

/** Removes log files older than `keepDays` days from `dir`; returns how many were removed. */
export function pruneLogs(dir: string, keepDays: number, now = Date.now()): number {
  if (!fs.existsSync(dir)) return 0;
  const cutoff = new Date(now - keepDays * 86_400_000).toISOString().slice(0, 10);
  let removed = 0;
  for (const name of fs.readdirSync(dir)) {
    const day = /^autologging-(\d{4}-\d{2}-\d{2})\.log$/.exec(name)?.[1];
    if (day && day < cutoff) {
      fs.rmSync(path.join(dir, name), { force: true });
      removed++;
    }
  }
  return removed;
}
