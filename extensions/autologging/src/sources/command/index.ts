/**
 * The `command` source: any program whose output is JSON, NDJSON or CSV, mapped onto session
 * or event records by its options. The way in for VMware Horizon (through sqlcmd), scripts and
 * other brokers. See README.md beside this file.
 */
import path from 'node:path';
import { z } from 'zod';
import { SourceError, throwIfAborted } from '../../errors.ts';
import { EVENT_TYPES, SESSION_STATES } from '../../records.ts';
import type { CaptureRecord } from '../../records.ts';
import { zonedParts } from '../../time.ts';
import type {
  CaptureResult,
  CaptureWindow,
  Source,
  SourceContext,
  SourcePlugin,
  SourceProblem,
} from '../types.ts';
import { diagnose } from '../shared/diagnose.ts';
import { RECORD_FIELDS, REQUIRED_FIELDS, mapRow, readColumn } from './mapping.ts';
import { readDate } from '../shared/values.ts';
import type { Mapping, RecordKind, Row } from './mapping.ts';
import {
  backfillHoursOption,
  encodingOption,
  timeoutOption,
  timeZoneOption,
} from '../shared/options.ts';
import { OutputError, readOutput } from './output.ts';
import { runChecked } from '../shared/run.ts';

const HOUR_MS = 3_600_000;

/** Placeholders that `args` may hold when the source is incremental. */
const PLACEHOLDERS = ['since', 'sinceMs', 'sinceLocal', 'until', 'untilMs', 'untilLocal'] as const;
const PLACEHOLDER = new RegExp(`\\{(${PLACEHOLDERS.join('|')})\\}`, 'g');
const HAS_PLACEHOLDER = new RegExp(PLACEHOLDER.source);
/** Where `args` take the `password` option. */
const PASSWORD = '{password}';

/** The record fields that hold dates, by kind: the ones `incremental.field` may name. */
const DATE_FIELDS: Record<RecordKind, readonly string[]> = {
  session: ['startAt', 'endAt', 'stateChangedAt'],
  event: ['at'],
};

const column = z
  .string({ error: 'each entry of fields must name a column in quotes' })
  .min(1, { error: 'a column name in fields must not be empty' });

const baseOptions = z.strictObject({
  file: z
    .string({ error: 'file must be the program to run, in quotes' })
    .trim()
    .min(1, { error: 'file must not be empty' }),
  args: z
    .array(z.string({ error: 'each entry of args must be text in quotes' }), {
      error: 'args must be a list of arguments',
    })
    .default(() => []),
  format: z.enum(['json', 'ndjson', 'csv'], {
    error: 'format must be "json", "ndjson" or "csv"',
  }),
  delimiter: z
    .string({ error: 'delimiter must be one character in quotes' })
    .length(1, { error: 'delimiter must be exactly one character' })
    .refine((d) => d !== '"' && d !== '\n' && d !== '\r', {
      error: 'delimiter must not be a quote or a line break',
    })
    .default(','),
  password: z
    .string({ error: 'password must be text in quotes, or a secret reference' })
    .min(1, { error: 'password must not be empty' })
    .optional(),
  encoding: encodingOption,
  timeoutMs: timeoutOption,
  timeZone: timeZoneOption,
  record: z.enum(['session', 'event'], { error: 'record must be "session" or "event"' }),
  fields: z.record(z.string(), z.union([column, z.array(column).min(1)]), {
    error: 'fields must map record fields to column names, e.g. { "key": "SessionKey" }',
  }),
  values: z
    .record(z.string(), z.union([z.string(), z.number(), z.null()]), {
      error: 'values must map record fields to fixed values',
    })
    .default(() => ({})),
  states: z
    .record(
      z.string(),
      z.enum(SESSION_STATES, {
        error: `each value of states must be a session state: ${SESSION_STATES.join(', ')}`,
      }),
      { error: 'states must map source values to session states, e.g. { "Disc": "Disconnected" }' },
    )
    .optional(),
  types: z
    .record(
      z.string(),
      z.enum(EVENT_TYPES, {
        error: `each value of types must be an event type: ${EVENT_TYPES.join(', ')}`,
      }),
      { error: 'types must map source values to event types, e.g. { "AGENT_ENDED": "logoff" }' },
    )
    .optional(),
  incremental: z
    .strictObject(
      {
        field: z.string({ error: 'incremental.field must name a date field in quotes' }),
        backfillHours: backfillHoursOption('incremental.backfillHours').default(24),
        overlapMinutes: z
          .number({ error: 'incremental.overlapMinutes must be a number of minutes' })
          .min(0, { error: 'incremental.overlapMinutes must be at least 0' })
          .max(1440, { error: 'incremental.overlapMinutes must be at most 1440' })
          .default(0),
      },
      { error: 'incremental must be an object such as { "field": "at" }' },
    )
    .optional(),
});

/**
 * Options of a `command` source; unknown keys rejected. Required: `file`, `format`, `record`,
 * `fields`. See README.md for the mapping.
 *
 * - `file`, `args` ([]): the program and its arguments, run without a shell.
 * - `password`: a secret (kept in the vault like every password setting) that `args` pass on as
 *   `{password}`.
 * - `format`: `json` (an array, `{ "value": [...] }` or one object), `ndjson` or `csv`.
 * - `delimiter` (`,`): the CSV field separator.
 * - `encoding` (`utf-8`), `timeoutMs` (120000).
 * - `timeZone`: the zone of dates written without an offset; default the agent's.
 * - `record`: `session` or `event`; `fields`: record field → column (`key` may list several
 *   columns, joined); `values`: record field → one fixed value for every row.
 * - `states` / `types`: source values → session states / event types.
 * - `incremental`: `{ field, backfillHours (24), overlapMinutes (0) }`: the date field whose
 *   newest value is the cursor; `args` then pass it as `{since}`, `{sinceMs}` or `{sinceLocal}`.
 */
export const commandOptions = baseOptions.superRefine((o, ctx) => {
  for (const problem of mappingProblems(o)) {
    ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  }
});

/** Validated `command` options, defaults filled in. */
export type CommandOptions = z.output<typeof commandOptions>;

/** A setting that does not fit the others, with where it is. */
interface OptionProblem {
  path: string[];
  message: string;
}

/** Everything wrong with a mapping that each option on its own cannot show. */
function mappingProblems(o: z.output<typeof baseOptions>): OptionProblem[] {
  return [
    ...fieldProblems(o.record, o.fields),
    ...valueProblems(o.record, o.fields, o.values),
    ...requiredProblems(o.record, o.fields, o.values),
    ...(o.states && o.record !== 'session'
      ? [{ path: ['states'], message: 'states applies to session records only' }]
      : []),
    ...(o.types && o.record !== 'event'
      ? [{ path: ['types'], message: 'types applies to event records only' }]
      : []),
    ...incrementalProblems(o),
    ...passwordProblems(o),
  ];
}

function passwordProblems(o: z.output<typeof baseOptions>): OptionProblem[] {
  const used = o.args.some((a) => a.includes(PASSWORD));
  if (used && o.password === undefined) {
    return [{ path: ['args'], message: `args use ${PASSWORD} but password is not set` }];
  }
  if (!used && o.password !== undefined) {
    return [
      { path: ['password'], message: `password is set but args never pass it as ${PASSWORD}` },
    ];
  }
  return [];
}

/** The readers of a kind's fields, by field name. */
function readersOf(record: RecordKind): Record<string, string> {
  return RECORD_FIELDS[record];
}

function fieldProblems(record: RecordKind, fields: Mapping['fields']): OptionProblem[] {
  const readers = readersOf(record);
  return Object.entries(fields).flatMap(([field, source]) => {
    if (!Object.hasOwn(readers, field)) {
      const names = Object.keys(readers).join(', ');
      return [
        {
          path: ['fields', field],
          message: `fields.${field} is not a field of ${record} records (${names})`,
        },
      ];
    }
    if (Array.isArray(source) && field !== 'key') {
      return [
        {
          path: ['fields', field],
          message: `fields.${field} must name one column; only key may join several`,
        },
      ];
    }
    return [];
  });
}

function valueProblems(
  record: RecordKind,
  fields: Mapping['fields'],
  values: Mapping['values'],
): OptionProblem[] {
  const readers = readersOf(record);
  return Object.entries(values).flatMap(([field, value]) => {
    const reader = Object.hasOwn(readers, field) ? readers[field] : undefined;
    const path = ['values', field];
    if (!reader) {
      return [{ path, message: `values.${field} is not a field of ${record} records` }];
    }
    if (reader === 'key' || reader === 'date') {
      return [{ path, message: `values.${field} cannot be fixed: it must come from a column` }];
    }
    if (Object.hasOwn(fields, field)) {
      return [{ path, message: `values.${field} cannot be fixed: fields maps it already` }];
    }
    if (reader === 'state' && !SESSION_STATES.some((s) => s === value)) {
      return [{ path, message: `values.state must be one of ${SESSION_STATES.join(', ')}` }];
    }
    if (reader === 'type' && !EVENT_TYPES.some((t) => t === value)) {
      return [{ path, message: `values.type must be one of ${EVENT_TYPES.join(', ')}` }];
    }
    return [];
  });
}

function requiredProblems(
  record: RecordKind,
  fields: Mapping['fields'],
  values: Mapping['values'],
): OptionProblem[] {
  const required = REQUIRED_FIELDS[record];
  return required
    .filter((field) => !Object.hasOwn(fields, field) && !Object.hasOwn(values, field))
    .map((field) => ({
      path: ['fields'],
      message: `fields must map ${field} for ${record} records (required: ${required.join(', ')})`,
    }));
}

function incrementalProblems(o: z.output<typeof baseOptions>): OptionProblem[] {
  const usesPlaceholder = o.args.some((a) => HAS_PLACEHOLDER.test(a));
  if (!o.incremental) {
    if (!usesPlaceholder) return [];
    const names = PLACEHOLDERS.map((p) => `{${p}}`).join(', ');
    return [{ path: ['args'], message: `args use ${names} only when incremental is set` }];
  }

  const problems: OptionProblem[] = [];
  const dates = DATE_FIELDS[o.record];
  const { field } = o.incremental;
  if (!dates.includes(field)) {
    problems.push({
      path: ['incremental', 'field'],
      message: `incremental.field must be a date field of ${o.record} records: ${dates.join(', ')}`,
    });
  } else if (!Object.hasOwn(o.fields, field)) {
    problems.push({
      path: ['incremental', 'field'],
      message: `incremental.field ${field} must be mapped in fields`,
    });
  }
  if (!usesPlaceholder) {
    problems.push({
      path: ['args'],
      message:
        'args must pass the cursor as {since}, {sinceMs} or {sinceLocal} when incremental is set',
    });
  }
  return problems;
}

/** The command source plugin: runs on every system. */
export const commandSource: SourcePlugin<CommandOptions> = {
  kind: 'command',
  description: 'Any program printing JSON, NDJSON or CSV, mapped onto session or event records',
  options: commandOptions,
  defaultSchedule: '*/15 * * * *',
  create: (options, context) => new CommandSource(options, context),
};

/** Where the cursor stands, as epoch ms, and what the command is asked for. */
interface Span {
  since: number;
  until: number;
}

class CommandSource implements Source {
  private readonly options: CommandOptions;
  private readonly context: SourceContext;
  private readonly mapping: Mapping;
  /** The program's name in messages; never its arguments, which may hold a password. */
  private readonly shown: string;

  constructor(options: CommandOptions, context: SourceContext) {
    this.options = options;
    this.context = context;
    this.shown = path.win32.basename(options.file);
    this.mapping = {
      record: options.record,
      fields: options.fields,
      values: options.values,
      states: options.states,
      types: options.types,
      timeZone: options.timeZone ?? context.timeZone,
    };
  }

  async open(signal: AbortSignal): Promise<void> {
    throwIfAborted(signal, `opening source ${this.context.id}`);
  }

  async capture(
    cursor: string | null,
    signal: AbortSignal,
    window?: CaptureWindow,
  ): Promise<CaptureResult> {
    const { id } = this.context;
    const { incremental } = this.options;
    if (window && !incremental) {
      throw new SourceError(
        'EWINDOW',
        id,
        'this command is not incremental (no incremental option), so it cannot be asked for a past time window',
      );
    }
    throwIfAborted(signal, `capture of source ${id}`);

    const base = incremental && !window ? this.position(cursor, incremental.backfillHours) : null;
    const span: Span | null = window
      ? window
      : base !== null
        ? { since: base - (incremental?.overlapMinutes ?? 0) * 60_000, until: this.context.now() }
        : null;

    const stdout = await runChecked(this.context, {
      file: this.options.file,
      args: this.options.args.map((a) => this.fill(a, span)),
      shown: this.shown,
      encoding: this.options.encoding,
      timeoutMs: this.options.timeoutMs,
      signal,
    });
    const { records, rejected, unreadAt } = this.read(stdout);
    const result: CaptureResult = { records, cursor: null };
    if (rejected.length) result.rejected = rejected;
    if (incremental && base !== null) {
      result.cursor = String(this.nextCursor(records, incremental.field, base, unreadAt));
    }
    return result;
  }

  async test(signal: AbortSignal) {
    return diagnose(
      async () => {
        await this.open(signal);
        return this.capture(null, signal);
      },
      {
        reached: `${this.shown} ran`,
        empty: 'it printed no rows',
        noun: `${this.options.record} records`,
      },
    );
  }

  async close(): Promise<void> {}

  /**
   * The rows of the output as records, the problems, and the cursor field's values of rejected
   * rows (null for a rejected row whose value could not be read).
   */
  private read(stdout: string) {
    const { id } = this.context;
    const records: CaptureRecord[] = [];
    const rejected: SourceProblem[] = [];
    const unreadAt: (number | null)[] = [];
    const reject = (where: string, reason: string, row: Row | null) => {
      rejected.push({
        code: 'EBADRECORD',
        message: `source ${id}: ${this.shown}, ${where} ${reason}`,
      });
      unreadAt.push(row ? this.cursorValueOf(row) : null);
    };

    let rows;
    try {
      rows = readOutput(stdout, this.options.format, this.options.delimiter);
    } catch (error) {
      if (!(error instanceof OutputError)) throw error;
      throw new SourceError('EBADRESPONSE', id, `${this.shown} ${error.message}`, { cause: error });
    }
    for (const item of rows) {
      if ('problem' in item) {
        reject(item.where, item.problem, null);
        continue;
      }
      const mapped = mapRow(item.row, this.mapping, (value) =>
        this.context.log.warnOnce(
          `command:${id}:state:${value}`,
          'the command printed a session state that neither states nor the record states name; recorded as Unknown',
          { source: id },
        ),
      );
      if ('problem' in mapped) reject(item.where, mapped.problem, item.row);
      else if (mapped.record) records.push(mapped.record);
    }
    this.context.log.debug('command output read', {
      records: records.length,
      rejected: rejected.length,
    });
    return { records, rejected, unreadAt };
  }

  /** The incremental field's value in a row, when it can be read. */
  private cursorValueOf(row: Row): number | null {
    const field = this.options.incremental?.field;
    const source = field === undefined ? undefined : this.options.fields[field];
    if (typeof source !== 'string') return null;
    return readDate(readColumn(row, source), this.mapping.timeZone) ?? null;
  }

  /**
   * The newest value of the cursor field among the records, but not past a rejected row: one
   * millisecond before the oldest rejected value, or where it stood when a rejected row's value
   * could not be read. Never behind `base`.
   */
  private nextCursor(
    records: readonly CaptureRecord[],
    field: string,
    base: number,
    unreadAt: readonly (number | null)[],
  ): number {
    let next = base;
    for (const record of records) {
      const value = (record as unknown as Record<string, unknown>)[field];
      if (typeof value === 'number' && value > next) next = value;
    }
    for (const at of unreadAt) next = at === null ? base : Math.min(next, at - 1);
    return Math.max(base, next);
  }

  private position(cursor: string | null, backfillHours: number): number {
    if (cursor === null) return this.context.now() - Math.round(backfillHours * HOUR_MS);
    if (!/^\d{1,16}$/.test(cursor)) {
      const shown = cursor.length > 40 ? `${cursor.slice(0, 40)}…` : cursor;
      throw new SourceError(
        'ECURSOR',
        this.context.id,
        `cursor ${JSON.stringify(shown)} is not an epoch-millisecond time`,
      );
    }
    return Number(cursor);
  }

  /** An argument with the password and the span's times filled in. */
  private fill(arg: string, span: Span | null): string {
    const { password } = this.options;
    const withPassword = password === undefined ? arg : arg.replaceAll(PASSWORD, password);
    if (!span) return withPassword;
    return withPassword.replace(PLACEHOLDER, (_, name: (typeof PLACEHOLDERS)[number]) => {
      const ms = name.startsWith('since') ? span.since : span.until;
      if (name.endsWith('Ms')) return String(ms);
      if (name.endsWith('Local')) return localTime(ms, this.mapping.timeZone);
      return new Date(ms).toISOString();
    });
  }
}

/** `YYYY-MM-DD HH:MM:SS.mmm` on the wall clock of `timeZone`, as SQL Server reads it. */
function localTime(ms: number, timeZone: string): string {
  const p = zonedParts(ms, timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  const millis = String(((ms % 1000) + 1000) % 1000).padStart(3, '0');
  const day = `${p.year}-${two(p.month)}-${two(p.day)}`;
  return `${day} ${two(p.hour)}:${two(p.minute)}:${two(p.second)}.${millis}`;
}
