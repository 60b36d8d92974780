import { SQL_SCRIPTS } from './sql-scripts.ts';

/** One versioned schema script. */
export interface SchemaScript {
  /** From the file name: `002-maintenance.sql` is version 2. */
  version: number;
  name: string;
  text: string;
}

/** The scripts of `sql/`, in version order, as embedded in the agent. */
export const SCHEMA_SCRIPTS: readonly SchemaScript[] = SQL_SCRIPTS.map((s) => ({
  version: Number(s.name.slice(0, 3)),
  name: s.name,
  text: s.text,
}));

/** The schema version this agent creates and needs: the highest script's. */
export const SCHEMA_VERSION = Math.max(...SCHEMA_SCRIPTS.map((s) => s.version));

/**
 * Splits a script into the batches `sqlcmd` would send: on lines holding only `GO` (any
 * case, optional trailing spaces or `--` comment). Empty batches are dropped. `GO n` (repeat)
 * is not supported and not used by the scripts.
 */
export function splitBatches(script: string): string[] {
  return script
    .replace(/\r\n/g, '\n')
    .split(/^[ \t]*GO[ \t]*(?:--[^\n]*)?$/im)
    .map((batch) => batch.trim())
    .filter((batch) => batch.replace(/--[^\n]*/g, '').trim().length > 0);
}
