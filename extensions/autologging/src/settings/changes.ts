import type { AuditLog } from '../protect/audit.ts';

/** What a settings change touched: names only, never a value. */
export interface SettingsChanges {
  /** Top-level sections that differ (`excel`, `mssql`, `sources`, …), sorted. */
  sections: string[];
  /** Ids of the sources added, removed or changed, sorted. */
  sources: string[];
}

/**
 * The top-level sections and source ids that differ between two raw settings objects. A
 * secret typed anew counts as a change of its section even where only its vault reference
 * would be written, since `after` is taken before secrets move into the vault.
 */
export function settingsChanges(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): SettingsChanges {
  const sections = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
    (key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]),
  );
  const byId = (raw: Record<string, unknown>) =>
    new Map(
      (Array.isArray(raw.sources) ? (raw.sources as unknown[]) : []).map((s, i) => [
        String((s as { id?: unknown } | null)?.id ?? `#${i}`),
        JSON.stringify(s),
      ]),
    );
  const old = byId(before);
  const now = byId(after);
  const sources = [...new Set([...old.keys(), ...now.keys()])].filter(
    (id) => old.get(id) !== now.get(id),
  );
  return { sections: sections.sort(), sources: sources.sort() };
}

/**
 * Writes a `settings.change` audit entry for the change from `before` to `after`, done by
 * `actor` through `via` (`window`, `cli`): the sections and source ids touched, no value.
 * Writes nothing when nothing changed. Throws what `AuditLog.audit` throws.
 */
export function auditSettingsChange(
  audit: AuditLog,
  change: { before: Record<string, unknown>; after: Record<string, unknown> },
  actor: string,
  via: string,
): void {
  const changes = settingsChanges(change.before, change.after);
  if (!changes.sections.length) return;
  audit.audit({
    action: 'settings.change',
    actor,
    subject: via,
    detail: JSON.stringify(changes),
  });
}
