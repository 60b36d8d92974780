/**
 * Readers for values that every command-based source meets: dates in the forms Windows,
 * PowerShell and SQL Server print, and accounts written `DOMAIN\\user` or `user@domain`.
 */
import { zonedTime } from '../../time.ts';

/** A date with an optional time, fraction and offset: `2024-06-27 09:05:12.123+09:00`. */
const ISO_DATE = new RegExp(
  String.raw`^(\d{4})-(\d{2})-(\d{2})` +
    String.raw`(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?` +
    String.raw`\s*(Z|[+-]\d{2}:?\d{2})?$`,
);
/** Epoch milliseconds accepted as dates: 1970 to 2200. */
const MAX_EPOCH_MS = 7_258_118_400_000;

/**
 * A date: epoch milliseconds (a number, or a string of digits), `/Date(ms)/`, an ISO date-time
 * with `Z` or an offset, or one without, read in `timeZone` (also with a blank for the `T`, as
 * SQL Server prints it). Undefined when it is none of these.
 */
export function readDate(raw: unknown, timeZone: string): number | undefined {
  if (typeof raw === 'number') {
    return Number.isSafeInteger(raw) && raw >= 0 && raw <= MAX_EPOCH_MS ? raw : undefined;
  }
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  if (/^\d{1,15}$/.test(text)) return readDate(Number(text), timeZone);
  const ms = /^\/Date\((-?\d{1,15})(?:[+-]\d{4})?\)\/$/.exec(text);
  if (ms) return readDate(Number(ms[1]), timeZone);

  const m = ISO_DATE.exec(text);
  if (!m) return undefined;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m
    .slice(1, 7)
    .map((p) => Number(p ?? 0));
  const fraction = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const check = new Date(Date.UTC(year, month - 1, day));
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return undefined;
  }
  const zone = m[8];
  if (zone === undefined)
    return zonedTime(timeZone, year, month, day, hour, minute, second) + fraction;
  const digits = zone.replace(':', '');
  const offset =
    zone === 'Z'
      ? 0
      : (digits.startsWith('-') ? -1 : 1) *
        (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  return Date.UTC(year, month - 1, day, hour, minute, second, fraction) - offset * 60_000;
}

/**
 * An account as Windows and Citrix write it, as user and domain: `CORP\minjun.kim`,
 * `minjun.kim@corp.example.com`, or a bare name without a domain.
 */
export function splitAccount(account: string): { user: string; domain: string | null } {
  const slash = account.indexOf('\\');
  if (slash > 0 && slash < account.length - 1) {
    return { domain: account.slice(0, slash), user: account.slice(slash + 1) };
  }
  const at = account.lastIndexOf('@');
  if (at > 0 && at < account.length - 1) {
    return { user: account.slice(0, at), domain: account.slice(at + 1) };
  }
  return { user: account, domain: null };
}
