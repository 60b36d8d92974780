import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import officeCrypto from 'officecrypto-tool';
import type { Secret } from '../crypto/secret.ts';
import { AbortedError, ExportError, throwIfAborted } from '../errors.ts';
import type { EventRow, HostLoadRow, SessionRow } from '../journal/rows.ts';
import { isValidTimeZone, parseDay, wallClockDate, zoneOffset } from '../time.ts';
import {
  DATE_FORMAT,
  EVENT_COLUMNS,
  HOST_LOAD_COLUMNS,
  ONE_DECIMAL,
  SESSION_COLUMNS,
  text,
  type CellValue,
  type ColumnSpec,
} from './columns.ts';
import { LANGUAGES, labelsFor, type Labels, type Language } from './labels.ts';
import { DaySummarizer, type DaySummary } from './summary.ts';

/** What `writeDailyWorkbook` writes. */
export interface DailyWorkbookInput {
  /** The final path, e.g. `<home>/exports/2026/2026-12-03.xlsx`. Parent folders are created. */
  file: string;
  /** The calendar day `YYYY-MM-DD` in `timeZone`. */
  day: string;
  /** IANA zone; every date cell shows its wall clock. */
  timeZone: string;
  /** Header and Summary labels; sheet names stay English. Default `'en'`. */
  language?: Language;
  /** Written to the Sessions sheet in the order given, and summarised. */
  sessions: Iterable<SessionRow> | AsyncIterable<SessionRow>;
  /** Written to the Events sheet in the order given. */
  events: Iterable<EventRow> | AsyncIterable<EventRow>;
  /** Written to the Host load sheet in the order given. */
  hostLoad: Iterable<HostLoadRow> | AsyncIterable<HostLoadRow>;
  /** Epoch ms shown as the generation time. Default `Date.now()`. */
  generatedAt?: number;
  /** Stops the export; the partial file is removed. */
  signal?: AbortSignal;
  /**
   * When given, the workbook is encrypted to open with this password (ECMA-376 Agile, AES-256)
   * once written, before it takes its final name.
   */
  password?: Secret | undefined;
  /**
   * The last day the rows cover, when more than `day`: the workbook of a range. It then has no
   * Summary sheet, which sums up one day.
   */
  lastDay?: string | undefined;
}

/** What was written: the final path, row counts per sheet and the file's size. */
export interface DailyWorkbookResult {
  file: string;
  sessions: number;
  events: number;
  hostLoad: number;
  bytes: number;
}

/** The sheet names, in workbook order. They are not translated. */
export const SHEET_NAMES = {
  sessions: 'Sessions',
  events: 'Events',
  hostLoad: 'Host load',
  summary: 'Summary',
} as const;

// Rows written between checks that the compressor is keeping up.
const ROWS_PER_BATCH = 500;

// Uncompressed sheet XML allowed to wait for the compressor before writing pauses.
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;

const FROZEN_HEADER: Partial<ExcelJS.WorksheetView> = {
  state: 'frozen',
  xSplit: 0,
  ySplit: 1,
  topLeftCell: 'A2',
  activeCell: 'A2',
};

const HOUR_FORMAT = 'yyyy-mm-dd hh:mm';

/**
 * Writes one day's workbook: sheets `Sessions`, `Events`, `Host load` and `Summary`, each data
 * sheet with a bold, frozen, filterable header and date cells in `timeZone`'s wall clock.
 *
 * Rows are streamed to disk as they come (the iterables are read once, in that order), so a
 * day of 100,000 rows needs little memory. The file is written under a temporary name
 * (`.<name>.<pid>.<random>.tmp`) in the same folder and renamed over `file` only when
 * complete: on failure the temporary file is removed and an existing `file` is left as it was.
 *
 * Throws `ExportError` (`EEXPORT`) naming the day and file, with the cause kept, and
 * `AbortedError` (`EABORTED`) when `signal` fires.
 */
export async function writeDailyWorkbook(input: DailyWorkbookInput): Promise<DailyWorkbookResult> {
  const options = checkInput(input);
  const { file, day, signal } = options;
  const what = `Excel export of ${day}`;
  throwIfAborted(signal, what);

  const dir = path.dirname(file);
  const temp = path.join(
    dir,
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  const tripwire = new Tripwire(signal, what);
  let output: fs.WriteStream | undefined;
  let writer: ExcelJS.stream.xlsx.WorkbookWriter | undefined;

  try {
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    tripwire.check();

    // The stream is ours rather than exceljs's (`filename`) because exceljs listens for its
    // errors only inside `commit()`: an earlier one, such as a full disk, would crash the agent.
    output = fs.createWriteStream(temp, { flags: 'wx', mode: 0o600 });
    output.on('error', tripwire.trip);
    writer = new ExcelJS.stream.xlsx.WorkbookWriter({
      stream: output,
      useStyles: true,
      useSharedStrings: false,
    });
    internalsOf(writer).zip?.on('error', tripwire.trip);
    writer.creator = 'AutoLogging';
    writer.created = new Date(options.generatedAt);

    const counts = await writeSheets(writer, options, tripwire);
    await tripwire.race(writer.commit());
    await tripwire.race(closed(output));
    const bytes = options.password
      ? await encryptInPlace(temp, options.password)
      : output.bytesWritten;
    tripwire.check();
    await fs.promises.rename(temp, file);

    return { file, ...counts, bytes };
  } catch (error) {
    const leftover = await discard(writer, output, temp);
    throw failure(error, options, leftover);
  } finally {
    tripwire.dispose();
  }
}

interface CheckedInput extends DailyWorkbookInput {
  language: Language;
  generatedAt: number;
}

function checkInput(input: DailyWorkbookInput): CheckedInput {
  const fail = (message: string) =>
    new ExportError('EEXPORT', `cannot export ${JSON.stringify(input.day)}: ${message}`);
  const language = input.language ?? 'en';
  const generatedAt = input.generatedAt ?? Date.now();

  if (typeof input.file !== 'string' || input.file === '') throw fail('no workbook file given');
  if (!parseDay(input.day)) throw fail('the day is not a calendar day YYYY-MM-DD');
  if (!isValidTimeZone(input.timeZone)) {
    throw fail(`time zone ${JSON.stringify(input.timeZone)} is unknown`);
  }
  if (!LANGUAGES.includes(language)) {
    throw fail(`language ${JSON.stringify(language)} is not one of ${LANGUAGES.join(', ')}`);
  }
  if (!Number.isFinite(generatedAt)) throw fail('generatedAt is not a time');
  if (input.lastDay !== undefined && (!parseDay(input.lastDay) || input.lastDay < input.day)) {
    throw fail('the last day is not a calendar day YYYY-MM-DD on or after the day');
  }
  return { ...input, file: path.resolve(input.file), language, generatedAt };
}

interface SheetContext {
  labels: Labels;
  timeZone: string;
  tripwire: Tripwire;
}

async function writeSheets(
  writer: ExcelJS.stream.xlsx.WorkbookWriter,
  options: CheckedInput,
  tripwire: Tripwire,
): Promise<{ sessions: number; events: number; hostLoad: number }> {
  const context: SheetContext = {
    labels: labelsFor(options.language),
    timeZone: options.timeZone,
    tripwire,
  };
  const summarizer = new DaySummarizer(options.day, options.timeZone);

  const sessions = await writeDataSheet(
    writer,
    SHEET_NAMES.sessions,
    SESSION_COLUMNS,
    options.sessions,
    context,
    (row) => summarizer.add(row),
  );
  const events = await writeDataSheet(
    writer,
    SHEET_NAMES.events,
    EVENT_COLUMNS,
    options.events,
    context,
  );
  const hostLoad = await writeDataSheet(
    writer,
    SHEET_NAMES.hostLoad,
    HOST_LOAD_COLUMNS,
    options.hostLoad,
    context,
  );
  if (!options.lastDay || options.lastDay === options.day) {
    writeSummarySheet(writer, summarizer.finish(), context, options.generatedAt);
  }
  tripwire.check();

  return { sessions, events, hostLoad };
}

async function writeDataSheet<Row>(
  writer: ExcelJS.stream.xlsx.WorkbookWriter,
  name: string,
  columns: readonly ColumnSpec<Row>[],
  rows: Iterable<Row> | AsyncIterable<Row>,
  context: SheetContext,
  onRow?: (row: Row) => void,
): Promise<number> {
  const sheet = writer.addWorksheet(name, { views: [FROZEN_HEADER] });
  sheet.columns = columns.map((c) => ({
    width: c.width,
    style: c.numFmt ? { numFmt: c.numFmt } : {},
  }));
  const header = sheet.addRow(columns.map((c) => context.labels[c.label]));
  header.font = { bold: true };
  header.commit();

  let count = 0;
  for await (const row of rows) {
    context.tripwire.check();
    sheet.addRow(columns.map((c) => c.value(row, context.timeZone))).commit();
    onRow?.(row);
    count++;
    if (count % ROWS_PER_BATCH === 0) await keepUp(sheet, context.tripwire);
  }
  context.tripwire.check();

  sheet.autoFilter = {
    from: { row: 1, column: 1 },
    to: { row: count + 1, column: columns.length },
  };
  sheet.commit();
  return count;
}

function writeSummarySheet(
  writer: ExcelJS.stream.xlsx.WorkbookWriter,
  summary: DaySummary,
  context: SheetContext,
  generatedAt: number,
): void {
  const { labels, timeZone } = context;
  const sheet = writer.addWorksheet(SHEET_NAMES.summary);
  sheet.columns = [{ width: 36 }, { width: 28 }, { width: 26 }, { width: 28 }, { width: 12 }];
  const add = (values: CellValue[], formats: (string | undefined)[] = [], bold = false) => {
    const row = sheet.addRow(values);
    formats.forEach((numFmt, i) => {
      if (numFmt) row.getCell(i + 1).numFmt = numFmt;
    });
    if (bold) row.font = { bold: true };
    row.commit();
  };
  const heading = (label: string) => {
    add([]);
    add([label], [], true);
  };

  const title = sheet.addRow([`${labels.reportTitle} ${summary.day} (${timeZone})`]);
  title.font = { bold: true, size: 14 };
  title.commit();
  add([labels.day, summary.day]);
  add([labels.timeZone, timeZone]);
  add([labels.generated, wallClockDate(generatedAt, timeZone)], [undefined, DATE_FORMAT]);

  const { totals } = summary;
  heading(labels.totals);
  add([labels.sessions, totals.sessions]);
  add([labels.distinctUsers, totals.users]);
  add([labels.failures, totals.failures]);
  add([labels.peakConcurrent, totals.peakConcurrent]);
  add([labels.averageLogonSeconds, totals.averageLogonSeconds], [undefined, ONE_DECIMAL]);

  heading(labels.byDeliveryGroup);
  add(
    [
      labels.deliveryGroup,
      labels.sessions,
      labels.distinctUsers,
      labels.averageLogonSeconds,
      labels.failures,
    ],
    [],
    true,
  );
  for (const g of summary.groups) {
    add(
      [
        text(g.deliveryGroup) ?? labels.noDeliveryGroup,
        g.sessions,
        g.users,
        g.averageLogonSeconds,
        g.failures,
      ],
      [undefined, undefined, undefined, ONE_DECIMAL],
    );
  }

  heading(labels.byHour);
  add([labels.hour, labels.utcOffset, labels.peakConcurrent], [], true);
  for (const h of summary.hours) {
    add(
      [
        wallClockDate(h.start, timeZone),
        formatOffset(zoneOffset(h.start, timeZone)),
        h.peakConcurrent,
      ],
      [HOUR_FORMAT],
    );
  }

  heading(labels.failuresByReason);
  add([labels.failureCode, labels.failureReason, labels.count], [], true);
  for (const f of summary.failures) {
    add([f.code, text(f.reason) ?? labels.unknownReason, f.count]);
  }

  sheet.commit();
}

/**
 * Encrypts the finished workbook `file` to open with `password` (ECMA-376 Agile: AES-256,
 * SHA-512, what Excel itself writes), in place, owner-only; returns the new size. The library
 * works on whole buffers: a day's workbook is a few megabytes at most.
 */
async function encryptInPlace(file: string, password: Secret): Promise<number> {
  const plain = await fs.promises.readFile(file);
  const encrypted = officeCrypto.encrypt(plain, { password: password.reveal().toString('utf8') });
  plain.fill(0);
  await fs.promises.writeFile(file, encrypted, { mode: 0o600 });
  return encrypted.length;
}

function formatOffset(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  const hh = String(Math.floor(minutes / 60)).padStart(2, '0');
  const mm = String(minutes % 60).padStart(2, '0');
  return `${ms < 0 ? '-' : '+'}${hh}:${mm}`;
}

/**
 * What this module uses of exceljs 4.4's streaming writer beyond its typings:
 * - `zip`, the archiver the sheets are compressed into. exceljs listens for its errors only
 *   inside `commit()`, so without a listener of ours an earlier one would crash the process;
 *   `abort()` stops it after a failure.
 * - a sheet's `stream`, which hands its XML to the archiver through a PassThrough (`pipes[0]`)
 *   without honouring back-pressure. Watching that PassThrough's write buffer is how memory
 *   stays bounded when rows come faster than they can be compressed.
 */
interface WriterInternals {
  zip?: { on(event: 'error', listener: (error: unknown) => void): unknown; abort?(): unknown };
}

interface SheetInternals {
  stream?: { pipes?: unknown[] };
}

/** The PassThrough's buffer, as both Node and `readable-stream` 2 keep it. */
interface BufferedPipe {
  _writableState: { length: number; needDrain: boolean };
  once(event: 'drain', listener: () => void): unknown;
}

function internalsOf(writer: ExcelJS.stream.xlsx.WorkbookWriter): WriterInternals {
  return writer as unknown as WriterInternals;
}

function pipeOf(sheet: ExcelJS.Worksheet): BufferedPipe | null {
  const pipe = (sheet as unknown as SheetInternals).stream?.pipes?.[0] as
    Partial<BufferedPipe> | undefined;
  const state = pipe?._writableState;
  return pipe && state && typeof state.length === 'number' && typeof pipe.once === 'function'
    ? (pipe as BufferedPipe)
    : null;
}

/**
 * Waits while too much of the sheet's XML is queued for compression. Should exceljs ever hide
 * its pipe, it falls back to letting the event loop turn once per batch.
 */
async function keepUp(sheet: ExcelJS.Worksheet, tripwire: Tripwire): Promise<void> {
  const pipe = pipeOf(sheet);
  if (!pipe) {
    await tripwire.race(new Promise<void>((resolve) => setImmediate(resolve)));
    return;
  }
  const state = pipe._writableState;
  if (state.needDrain && state.length > MAX_BACKLOG_BYTES) {
    await tripwire.race(new Promise<void>((resolve) => pipe.once('drain', resolve)));
  }
}

/**
 * Holds the first failure of the output stream or the archiver, or the abort, and turns it
 * into a rejection of whatever the export is waiting for, so that nothing waits forever on a
 * stream that has died.
 */
class Tripwire {
  private tripped = false;
  private error: unknown;
  private readonly waiters = new Set<(error: unknown) => void>();
  private readonly onAbort = () => this.trip(new AbortedError(this.what));
  private readonly signal: AbortSignal | undefined;
  private readonly what: string;

  constructor(signal: AbortSignal | undefined, what: string) {
    this.signal = signal;
    this.what = what;
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Records `error` if it is the first; later ones are consequences of it. */
  readonly trip = (error: unknown): void => {
    if (this.tripped) return;
    this.tripped = true;
    this.error = error;
    for (const reject of this.waiters) reject(error);
    this.waiters.clear();
  };

  /** Throws the recorded failure, if any. */
  check(): void {
    if (this.tripped) throw this.error;
  }

  /** Settles as `promise` does, or rejects as soon as the wire trips. */
  race<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.tripped) {
        promise.catch(() => {});
        reject(this.error);
        return;
      }
      this.waiters.add(reject);
      promise.then(resolve, reject).finally(() => this.waiters.delete(reject));
    });
  }

  dispose(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}

function closed(stream: fs.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) resolve();
    else stream.once('close', () => resolve());
  });
}

/**
 * Stops the archiver, closes the temporary file and removes it. Returns the removal's error, if
 * any: the original failure is what gets reported.
 */
async function discard(
  writer: ExcelJS.stream.xlsx.WorkbookWriter | undefined,
  output: fs.WriteStream | undefined,
  temp: string,
): Promise<unknown> {
  if (writer) internalsOf(writer).zip?.abort?.();
  if (output) {
    output.destroy();
    // Windows refuses to delete a file that is still open.
    await closed(output);
  }
  try {
    await fs.promises.rm(temp, { force: true });
    return undefined;
  } catch (error) {
    return error;
  }
}

function failure(error: unknown, options: CheckedInput, leftover: unknown): Error {
  if (error instanceof AbortedError) return error;
  if (options.signal?.aborted) return new AbortedError(`Excel export of ${options.day}`);

  const code = (error as { code?: unknown } | null)?.code;
  let message = error instanceof Error ? error.message : String(error);
  // Windows refuses to replace a workbook that someone has open in Excel.
  if (code === 'EPERM' || code === 'EBUSY') message += ' (is the workbook open in Excel?)';
  if (leftover !== undefined) message += '; the temporary file could not be removed either';
  return new ExportError(
    'EEXPORT',
    `could not write the workbook for ${options.day} to ${options.file}: ${message}`,
    { cause: error },
  );
}
