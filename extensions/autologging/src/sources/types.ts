import type { z } from 'zod';
import type { Logger } from '../log/logger.ts';
import type { CommandRunner } from '../platform/command.ts';
import type { CaptureRecord } from '../records.ts';

/** What the agent gives a source when it creates one. */
export interface SourceContext {
  /** The source's id from settings; part of every record's identity. */
  id: string;
  log: Logger;
  /** The agent's configured time zone (IANA name). */
  timeZone: string;
  /** The clock; tests pass a fixed one. */
  now(): number;
  /** Runs external commands (quser, wevtutil, PowerShell); tests inject fixtures. */
  run: CommandRunner;
  /** The operating system, as `process.platform` names it. */
  platform: NodeJS.Platform;
}

/** What one capture returns. */
export interface CaptureResult {
  /** Records observed since the cursor. May overlap earlier captures: the journal de-duplicates. */
  records: CaptureRecord[];
  /**
   * Where the next capture resumes, stored with the records in the same transaction, so it only
   * advances over what was stored. `null` when the source keeps no position.
   */
  cursor: string | null;
  /**
   * True when the source stopped early to keep one transaction small (a long backfill): the
   * agent stores this part, then captures again at once from the new cursor. In a capture of an
   * explicit `window`, `cursor` must then be the epoch-ms time (as text) where the rest of the
   * window begins: the agent asks for the window again from there.
   */
  more?: boolean;
  /**
   * What the source could not read (a malformed row, a truncated page): each with a code and
   * a message naming the source, the request and the field, never a personal value. The good
   * records are still stored, and `cursor` must not pass what was rejected; the run is
   * recorded as failed with the first problem's code.
   */
  rejected?: SourceProblem[];
}

/** A record or response a source could not read. */
export interface SourceProblem {
  code: string;
  message: string;
}

/**
 * A time window `(since, until]` in epoch ms that an administrator asked for
 * (`capture --since --until`). The cursor is then neither used nor moved.
 */
export interface CaptureWindow {
  since: number;
  until: number;
}

/**
 * A capture source. The lifecycle is always: options validated by the plugin's schema (no I/O)
 * → `create` → `open` → `capture` (any number of times) → `close`.
 */
export interface Source {
  /** Connects or checks what the source needs. Throws `SourceError`. */
  open(signal: AbortSignal): Promise<void>;
  /**
   * Returns what happened after `cursor` (`null`: the first capture, which looks back as far
   * as the source's options say), or inside `window` when one is given. Throws `SourceError`
   * (`EWINDOW` when the source cannot capture a past time window); throws `AbortedError`
   * when `signal` fires.
   */
  capture(
    cursor: string | null,
    signal: AbortSignal,
    window?: CaptureWindow,
  ): Promise<CaptureResult>;
  /**
   * Checks the connection without storing anything, for "Test connection" and
   * `autologging source test ID`. Never throws: every failure becomes a diagnosis.
   */
  test?(signal: AbortSignal): Promise<Diagnosis>;
  /** Releases connections. Never throws. */
  close(): Promise<void>;
}

/** What a connection test found, in words an administrator can act on. */
export interface Diagnosis {
  ok: boolean;
  /**
   * Stable code: `OK`, `ENODATA` (reachable, nothing recorded yet), `ENOTFOUND` (name not
   * resolved), `ECONNREFUSED`, `ETIMEOUT`, `ETLS`, `EAUTH` (401), `EFORBIDDEN` (403),
   * `ENOENTITYSET`, `EBADRESPONSE`, `ENEEDSWINDOWS`, or a source's own.
   */
  code: string;
  /** One plain sentence; no secret, no personal value. */
  message: string;
  /** Records seen, when the test read any. */
  count?: number;
  /** One record as a sample, personal fields masked. */
  sample?: Record<string, unknown>;
}

/** A kind of source, registered once; settings name it by `kind`. */
export interface SourcePlugin<Options = unknown> {
  /** The `kind` in settings, kebab-case. */
  kind: string;
  /** One line shown in `source list` and the window. */
  description: string;
  /** Validates a source's `options` and fills in defaults. Must not do I/O. */
  options: z.ZodType<Options>;
  /** The cron expression used when a source of this kind gives none. */
  defaultSchedule: string;
  /**
   * The systems it runs on, when not all (`['win32']` for quser, wevtutil, PowerShell).
   * Settings that enable it elsewhere fail validation with `ENEEDSWINDOWS`.
   */
  platforms?: readonly NodeJS.Platform[];
  create(options: Options, context: SourceContext): Source;
}
