/**
 * Reading the table that `quser` (`query user`) prints. The table is laid out for people: a
 * disconnected session leaves SESSIONNAME blank, user names may hold spaces, and titles, states
 * and dates follow the machine's language. So the header finds the columns, and each row is
 * read from both ends: the logon time, idle time, state and session id from the right, where
 * their shapes are known, and user and session name from the left, split where the header puts
 * SESSIONNAME.
 */

/** Local wall-clock time as the host printed it. */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

/** One session row of `quser`. */
export interface QuserRow {
  /** Line number in the output, from 1. */
  line: number;
  /** True for the row marked `>`: the session of whoever ran quser. */
  current: boolean;
  user: string;
  /** `console`, `rdp-tcp#3`, `ica-cgp#12`...; null for a disconnected session. */
  sessionName: string | null;
  sessionId: number;
  /** The state as printed: `Active`, `Disc`, `활성`, `Getr.`... */
  state: string;
  /** Minutes without input; 0 for `.` (under a minute); null for `none`. */
  idleMinutes: number | null;
  logon: WallClock;
}

/** A row that could not be read. Names the line and the column, never the value. */
export interface QuserProblem {
  line: number;
  /** The column, as the English header names it: `LOGON TIME`, `ID`... */
  field: string;
  reason: string;
}

/** What one `quser` output held. */
export interface QuserTable {
  rows: QuserRow[];
  problems: QuserProblem[];
}

/** How dates written `a/b/yyyy` are read: `7/21/2017` (United States) or `21/07/2017`. */
export type SlashDates = 'month-first' | 'day-first';

/** Thrown when the output is not a `quser` table in a layout or language this parser knows. */
export class QuserLayoutError extends Error {
  readonly line: number;

  constructor(line: number, message: string) {
    super(message);
    this.name = 'QuserLayoutError';
    this.line = line;
  }
}

/** Longest user name accepted (a UPN may be long; quser itself cuts sAMAccountNames at 20). */
const MAX_USER = 256;
const MAX_SESSION_NAME = 64;
const MAX_LINE = 1000;

/**
 * Column titles by language, compared without case. English, Korean and German are checked
 * against real output; the Spanish and French ones are kept as printed by those Windows versions.
 */
const TITLES = {
  user: ['USERNAME', '사용자 이름', '사용자이름', 'BENUTZERNAME', 'NOMBRE USUARIO', 'UTILISATEUR'],
  session: ['SESSIONNAME', '세션 이름', '세션이름', 'SITZUNGSNAME', 'NOMBRE SESIÓN', 'SESSION'],
  id: ['ID.', 'ID'],
  state: ['STATE', '상태', 'STATUS', 'ESTADO', 'ÉTAT'],
  idle: ['IDLE TIME', '유휴 시간', '유휴시간', 'LEERLAUF', 'TIEMPO IN.', 'TEMPS INACT'],
  logon: [
    'LOGON TIME',
    '로그온 시간',
    '로그온시간',
    'ANMELDEZEIT',
    'TIEMPO SESIÓN',
    'TEMPS SESSION',
  ],
} as const;

type Column = keyof typeof TITLES;

const COLUMN_ORDER: readonly Column[] = ['user', 'session', 'id', 'state', 'idle', 'logon'];

/** Where each title starts in the header line. */
type Layout = Record<Column, number>;

/** A date, then the time, with the morning/afternoon word before (Korean) or after it. */
const LOGON_AT_END = new RegExp(
  String.raw`(?:^|\s)(\d{1,4}[-/.]\s?\d{1,2}[-/.]\s?\d{1,4}\.?)\s+` +
    String.raw`(?:(오전|오후|AM|PM|午前|午後)\s*)?(\d{1,2}):(\d{2})(?::(\d{2}))?` +
    String.raw`(?:\s*(AM|PM|오전|오후|午前|午後))?$`,
  'i',
);

/** `.`, `M`, `H:MM`, `D+HH:MM`, or a word for "none" (`none`, `없음`, `keine`...). */
const IDLE = /^(?:(\.)|(\d+)|(\d+):(\d{2})|(\d+)\+(\d{1,2}):(\d{2})|(\p{L}+))$/u;

/**
 * Reads a `quser` table. Rows that cannot be read are returned as problems, naming their line
 * and column; the others are returned as rows. Blank output (nobody logged on) gives no rows.
 * Throws `QuserLayoutError` when the first non-blank line is not a header in a known language.
 */
export function parseQuser(text: string, slashDates: SlashDates = 'month-first'): QuserTable {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const headerIndex = lines.findIndex((l) => l.trim() !== '');
  if (headerIndex < 0) return { rows: [], problems: [] };

  const headerLine = lines[headerIndex] ?? '';
  const layout = findLayout(headerLine);
  if (!layout) {
    // A header holds no digits; a line with digits is probably a session row, whose values
    // are personal and are not repeated in the message.
    const shown = /\d/.test(headerLine)
      ? ''
      : `: ${JSON.stringify(headerLine.trim().slice(0, 100))}`;
    throw new QuserLayoutError(
      headerIndex + 1,
      `line ${headerIndex + 1} is not a quser header in a language this source reads ` +
        `(English, Korean, German)${shown}`,
    );
  }

  const table: QuserTable = { rows: [], problems: [] };
  for (let i = headerIndex + 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const read = readRow(line, i + 1, layout, slashDates);
    if ('reason' in read) table.problems.push(read);
    else table.rows.push(read);
  }
  return table;
}

/** Positions of the six titles, found in their order; null when one is missing. */
function findLayout(header: string): Layout | null {
  const upper = header.toUpperCase();
  const layout: Partial<Layout> = {};
  let from = 0;
  for (const column of COLUMN_ORDER) {
    let found = -1;
    let length = 0;
    for (const title of TITLES[column]) {
      const at = indexOfWord(upper, title, from);
      if (at >= 0 && (found < 0 || at < found)) {
        found = at;
        length = title.length;
      }
    }
    if (found < 0) return null;
    layout[column] = found;
    from = found + length;
  }
  return layout as Layout;
}

/** Index of `word` at or after `from`, standing alone (blank or line edge on both sides). */
function indexOfWord(text: string, word: string, from: number): number {
  for (let at = text.indexOf(word, from); at >= 0; at = text.indexOf(word, at + 1)) {
    const before = at === 0 ? ' ' : (text[at - 1] ?? ' ');
    const after = text[at + word.length] ?? ' ';
    if (/\s/.test(before) && /\s/.test(after)) return at;
  }
  return -1;
}

function readRow(
  raw: string,
  line: number,
  layout: Layout,
  slashDates: SlashDates,
): QuserRow | QuserProblem {
  const problem = (field: string, reason: string): QuserProblem => ({ line, field, reason });
  if (raw.length > MAX_LINE) return problem('line', `is longer than ${MAX_LINE} characters`);
  const text = raw.trimEnd();

  // From the right: LOGON TIME, whose shape is known, may be pushed right by a long idle time.
  const logonMatch = LOGON_AT_END.exec(text);
  if (!logonMatch) return problem('LOGON TIME', 'is not a date and time in a known format');
  const logon = readLogon(logonMatch, slashDates);
  if (typeof logon === 'string') return problem('LOGON TIME', logon);

  const beforeLogon = text.slice(0, logonMatch.index);
  const idleMatch = /(\S+)\s*$/.exec(beforeLogon);
  const idleText = idleMatch?.[1] ?? '';
  const idleMinutes = readIdle(idleText);
  if (!idleMatch || idleMinutes === undefined) {
    return problem('IDLE TIME', 'is not ".", "none", minutes, H:MM or D+HH:MM');
  }

  // STATE is one or more words after the session id, the last number standing alone.
  const tokens = [...beforeLogon.slice(0, idleMatch.index).matchAll(/\S+/g)];
  let idToken = -1;
  for (let t = tokens.length - 1; t >= 0; t--) {
    if (/^\d+$/.test(tokens[t]?.[0] ?? '')) {
      idToken = t;
      break;
    }
  }
  const id = tokens[idToken];
  if (!id || id.index === 0) return problem('ID', 'no session id was found');
  if (idToken === tokens.length - 1) return problem('STATE', 'is missing');
  const sessionId = Number(id[0]);
  if (!Number.isSafeInteger(sessionId) || sessionId > 0xffffffff) {
    return problem('ID', 'is not a session id');
  }
  const state = tokens
    .slice(idToken + 1)
    .map((m) => m[0])
    .join(' ');

  // From the left: the marker column (blank, or `>`), then user name and session name.
  const names = splitNames(text.slice(0, id.index).replace(/^>/, ' '), layout.session);
  if (names.user === '') return problem('USERNAME', 'is empty');
  if (names.user.length > MAX_USER) {
    return problem('USERNAME', `is longer than ${MAX_USER} characters`);
  }
  if (names.session.length > MAX_SESSION_NAME) {
    return problem('SESSIONNAME', `is longer than ${MAX_SESSION_NAME} characters`);
  }

  return {
    line,
    current: text.startsWith('>'),
    user: names.user,
    sessionName: names.session === '' ? null : names.session,
    sessionId,
    state,
    idleMinutes,
    logon,
  };
}

/**
 * Splits the text before the session id into user and session name at the header's
 * SESSIONNAME column. A name that runs across that column (a long name, or a header whose
 * titles do not line up with the rows) is kept whole, and the session name is what follows it
 * after a blank; one that ends exactly at the column, abutting a session name, is cut there
 * when what follows looks like a session name (`console`, or holding `#`).
 */
function splitNames(text: string, sessionAt: number): { user: string; session: string } {
  if (text.length <= sessionAt) return { user: text.trim(), session: '' };
  const head = text.slice(0, sessionAt);
  const tail = text.slice(sessionAt);
  if (/\s$/.test(head) || /^\s/.test(tail) || head.trim() === '') {
    return { user: head.trim(), session: tail.trim() };
  }

  const crossing = /^\S+/.exec(tail)?.[0] ?? '';
  if (/^console$/i.test(crossing) || crossing.includes('#')) {
    return { user: head.trim(), session: tail.trim() };
  }
  const rest = tail.slice(crossing.length);
  return { user: (head + crossing).trim(), session: rest.trim() };
}

/** Minutes of an IDLE TIME value, null for "none", undefined when it is not one. */
function readIdle(text: string): number | null | undefined {
  const m = IDLE.exec(text);
  if (!m) return undefined;
  const [, dot, minutes, hours, hourMinutes, days, dayHours, dayMinutes, word] = m;
  if (dot) return 0;
  if (minutes) return Number(minutes);
  if (hours && hourMinutes) {
    return Number(hourMinutes) < 60 ? Number(hours) * 60 + Number(hourMinutes) : undefined;
  }
  if (days && dayHours && dayMinutes) {
    if (Number(dayHours) > 23 || Number(dayMinutes) > 59) return undefined;
    return Number(days) * 1440 + Number(dayHours) * 60 + Number(dayMinutes);
  }
  return word ? null : undefined;
}

/** The wall-clock time of a LOGON TIME match, or why it is not a valid one. */
function readLogon(match: RegExpExecArray, slashDates: SlashDates): WallClock | string {
  const [, datePart = '', before, hourText = '', minuteText = '', , after] = match;
  const date = readDate(datePart, slashDates);
  if (typeof date === 'string') return date;

  let hour = Number(hourText);
  const minute = Number(minuteText);
  const meridiem = (before ?? after)?.toUpperCase();
  if (minute > 59) return 'has minutes past 59';
  if (meridiem) {
    if (hour < 1 || hour > 12) return 'has an hour outside 1-12 with AM/PM';
    const afternoon = meridiem === 'PM' || meridiem === '오후' || meridiem === '午後';
    hour = (hour % 12) + (afternoon ? 12 : 0);
  } else if (hour > 23) {
    return 'has an hour past 23';
  }
  return { ...date, hour, minute };
}

/** Year, month and day of a date as Windows prints it in its short date format. */
function readDate(
  text: string,
  slashDates: SlashDates,
): { year: number; month: number; day: number } | string {
  let parts: [number, number, number] | null = null;
  let m: RegExpExecArray | null;
  if ((m = /^(\d{4})[-/.]\s?(\d{1,2})[-/.]\s?(\d{1,2})\.?$/.exec(text))) {
    parts = [Number(m[1]), Number(m[2]), Number(m[3])];
  } else if ((m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(text))) {
    const [a, b] = [Number(m[1]), Number(m[2])];
    parts = slashDates === 'day-first' ? [Number(m[3]), b, a] : [Number(m[3]), a, b];
  } else if ((m = /^(\d{1,2})[.-](\d{1,2})[.-](\d{4})$/.exec(text))) {
    parts = [Number(m[3]), Number(m[2]), Number(m[1])];
  }
  if (!parts) return 'is not a date in a known format';

  const [year, month, day] = parts;
  const check = new Date(Date.UTC(year, month - 1, day));
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1) {
    return month > 12 && slashDates === 'month-first'
      ? 'has a month past 12 (if this host writes day/month/year, set slashDates to "day-first")'
      : 'is not a valid calendar date';
  }
  if (check.getUTCDate() !== day) return 'is not a valid calendar date';
  return { year, month, day };
}
