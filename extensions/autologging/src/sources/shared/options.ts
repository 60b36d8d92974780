/**
 * Option schemas shared by the command-running sources, so that the same setting is checked
 * and explained the same way in each of them.
 */
import { z } from 'zod';
import { isValidTimeZone } from '../../time.ts';

/** The longest first backfill: three years and a leap day, the history the agent keeps. */
export const MAX_BACKFILL_HOURS = 26_304;

/**
 * `backfillHours` (called `name` in messages): how far back a source's very first capture
 * looks, 0 to three years. Callers add their default, or `.optional()`.
 */
export function backfillHoursOption(name = 'backfillHours') {
  return z
    .number({ error: `${name} must be a number of hours from 0 to ${MAX_BACKFILL_HOURS}` })
    .min(0, { error: `${name} must be at least 0` })
    .max(MAX_BACKFILL_HOURS, {
      error: `${name} must be at most ${MAX_BACKFILL_HOURS} (three years)`,
    });
}

/** How long a command may run unless a source's options say otherwise. */
export const DEFAULT_TIMEOUT_MS = 120_000;

/** True when `label` names an encoding that `TextDecoder` knows. Does no I/O. */
export function isKnownEncoding(label: string): boolean {
  try {
    new TextDecoder(label);
    return true;
  } catch {
    return false;
  }
}

/**
 * `encoding`: a WHATWG label, default `utf-8`. Korean Windows prints console output in code page
 * 949, which is `windows-949`.
 */
export const encodingOption = z
  .string({ error: 'encoding must be an encoding name in quotes, e.g. "utf-8" or "windows-949"' })
  .refine(isKnownEncoding, {
    error: (issue) =>
      `encoding ${JSON.stringify(issue.input)} is not a known encoding ` +
      '(e.g. "utf-8", "windows-949" for Korean Windows, "utf-16le")',
  })
  .default('utf-8');

/** `timeoutMs`: 1 s to 1 h, default two minutes. */
export const timeoutOption = z
  .int({ error: 'timeoutMs must be a whole number of milliseconds' })
  .min(1000, { error: 'timeoutMs must be at least 1000 (one second)' })
  .max(3_600_000, { error: 'timeoutMs must be at most 3600000 (one hour)' })
  .default(DEFAULT_TIMEOUT_MS);

/** `timeZone`: an IANA zone name; optional, the agent's zone when absent. */
export const timeZoneOption = z
  .string({ error: 'timeZone must be an IANA time zone name in quotes, e.g. "Asia/Seoul"' })
  .refine(isValidTimeZone, {
    error: (issue) =>
      `timeZone ${JSON.stringify(issue.input)} is not a known IANA time zone (e.g. Asia/Seoul)`,
  })
  .optional();

/**
 * A host name option (`server`, `adminAddress`...): a NetBIOS or DNS name or an IP address,
 * optionally with a port. Nothing that could be read as another argument or a quote.
 */
export function hostOption(name: string) {
  return z
    .string({ error: `${name} must be a host name in quotes` })
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}(:\d{1,5})?$/, {
      error: `${name} must be a host name or address such as "vda01" or "ddc01.corp.example.com"`,
    });
}
