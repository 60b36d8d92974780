import { call, describe, refreshStatus } from './agent.svelte.ts';
import { AgentError } from './rpc.ts';
import { needsOtp, security } from './security.svelte.ts';

/** settings.json as written: plain JSON, secrets as `{ "$secret": name }` references. */
export type RawSettings = Record<string, unknown> & {
  sources?: RawSource[];
  excel?: Record<string, unknown>;
  maintenance?: Record<string, unknown>;
  mssql?: Record<string, unknown>;
  timeZone?: string;
};

/** One source entry as written. */
export interface RawSource {
  id: string;
  kind: string;
  enabled?: boolean;
  schedule?: string | { cron: string; timeZone?: string };
  options?: Record<string, unknown>;
}

/** A form field of a source kind's (or SQL Server's) options, from the agent. */
export interface OptionField {
  name: string;
  type: 'string' | 'number' | 'integer' | 'boolean' | 'json';
  enum?: string[];
  default?: unknown;
  secret: boolean;
}

/** A source kind the agent knows. */
export interface SourceKind {
  kind: string;
  description: string;
  defaultSchedule: string;
  available: boolean;
  fields: OptionField[];
}

/** A settings problem the agent reported, by path (`sources[1].options.url`). */
export interface Problem {
  path: string;
  message: string;
  code?: string;
}

/**
 * The one reactive settings module every screen reads and edits: the settings the agent has
 * in force (`saved`), the copy being edited (`draft`), and what went wrong with the last save,
 * by path, so that each form shows a problem beside its field.
 */
export const settings = $state<{
  loaded: boolean;
  saved: RawSettings;
  draft: RawSettings;
  kinds: SourceKind[];
  dbFields: OptionField[];
  supports: { excelPassword: boolean };
  timeZone: string;
  problems: Problem[];
  /** A failure that names no field. */
  error: string;
  saving: boolean;
  /** Set after a save succeeded, until the next edit is saved. */
  savedAt: number;
}>({
  loaded: false,
  saved: {},
  draft: {},
  kinds: [],
  dbFields: [],
  supports: { excelPassword: false },
  timeZone: 'UTC',
  problems: [],
  error: '',
  saving: false,
  savedAt: 0,
});

type Loaded = { settings: RawSettings; timeZone: string; supports: { excelPassword: boolean } };

function apply(loaded: Loaded): void {
  settings.saved = loaded.settings;
  settings.draft = structuredClone(loaded.settings);
  settings.timeZone = loaded.timeZone;
  settings.supports = loaded.supports;
  settings.loaded = true;
}

/** Reads the settings, the source kinds and the SQL Server fields from the agent. */
export async function loadSettings(): Promise<void> {
  const [loaded, kinds, dbFields] = await Promise.all([
    call<Loaded>('settings.get'),
    call<SourceKind[]>('sources.kinds'),
    call<OptionField[]>('db.fields'),
  ]);
  settings.kinds = kinds;
  settings.dbFields = dbFields;
  apply(loaded);
}

/**
 * Saves the draft. The agent validates it, moves typed secrets into its vault, writes it and
 * applies it at once. Returns false, with the problems kept by path, when it was refused.
 */
export async function saveSettings(): Promise<boolean> {
  settings.saving = true;
  settings.problems = [];
  settings.error = '';
  try {
    apply(await call<Loaded>('settings.save', { settings: $state.snapshot(settings.draft) }));
    settings.savedAt = Date.now();
    await refreshStatus().catch(() => {});
    return true;
  } catch (error) {
    if (needsOtp(error)) security.otpRequired = true;
    if (error instanceof AgentError && error.problems.length) settings.problems = error.problems;
    else settings.error = describe(error);
    return false;
  } finally {
    settings.saving = false;
  }
}

/** Drops unsaved edits. */
export function revertDraft(): void {
  settings.draft = structuredClone($state.snapshot(settings.saved));
  settings.problems = [];
  settings.error = '';
}

/** The problem reported at `path` or inside it, for the field that shows it. */
export function problemAt(path: string): string | undefined {
  const found = settings.problems.find(
    (p) => p.path === path || p.path.startsWith(path + '.') || p.path.startsWith(path + '['),
  );
  return found?.message;
}

/** Problems whose path no field on screen claims: shown above the Save button. */
export function otherProblems(prefixes: readonly string[]): Problem[] {
  return settings.problems.filter((p) => !prefixes.some((x) => p.path.startsWith(x)));
}

/** The cron of a schedule written either way. */
export function cronOf(schedule: unknown, fallback = ''): string {
  if (typeof schedule === 'string') return schedule;
  if (schedule && typeof schedule === 'object' && 'cron' in schedule) {
    return String((schedule as { cron: unknown }).cron);
  }
  return fallback;
}

/** A schedule with `cron` replaced, keeping a zone of its own if it had one. */
export function withCron(schedule: unknown, cron: string): { cron: string; timeZone?: string } {
  const zone =
    schedule && typeof schedule === 'object' && 'timeZone' in schedule
      ? String((schedule as { timeZone: unknown }).timeZone)
      : undefined;
  return zone ? { cron, timeZone: zone } : { cron };
}

/** True for a `{ "$secret": name }` reference: the value stays in the agent's vault. */
export function isSecretRef(value: unknown): boolean {
  return !!value && typeof value === 'object' && '$secret' in value;
}
