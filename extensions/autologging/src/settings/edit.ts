import type { z } from 'zod';
import { UsageError } from '../errors.ts';
import type { SourcePlugin } from '../sources/types.ts';

/** One `key=value` of `source add/set`, with where its value came from. */
export interface Assignment {
  /** Option name; dots reach into nested options (`fields.user`). */
  key: string;
  /** The text given, or read from the environment variable. */
  text: string;
}

/**
 * Parses `key=value` words. Throws `UsageError` for a word without `=` or an empty key.
 */
export function parseAssignments(words: readonly string[]): Assignment[] {
  return words.map((word) => {
    const at = word.indexOf('=');
    if (at <= 0) throw new UsageError(`"${word.split('=')[0]}" is not key=value`);
    return { key: word.slice(0, at), text: word.slice(at + 1) };
  });
}

/**
 * Parses `key=ENV_VAR` words and reads each variable, so a secret never sits in the shell's
 * history. Throws `UsageError` naming a variable that is not set (never its value).
 */
export function readEnvAssignments(words: readonly string[], env: NodeJS.ProcessEnv): Assignment[] {
  return parseAssignments(words).map(({ key, text: variable }) => {
    const value = env[variable];
    if (value === undefined) {
      throw new UsageError(`--set-env ${key}=${variable}: the environment variable is not set`);
    }
    return { key, text: value };
  });
}

/**
 * Writes each assignment into `options`, converting the text to the type the plugin's schema
 * expects at that key (number, boolean, list or object as JSON, text as it is). Throws
 * `UsageError` for a key the schema does not have, or text that is not of its type.
 */
export function applyAssignments(
  plugin: SourcePlugin<unknown>,
  options: Record<string, unknown>,
  assignments: readonly Assignment[],
): void {
  for (const { key, text } of assignments) {
    const path = key.split('.');
    const schema = schemaAt(plugin.options, path);
    if (!schema) {
      const known = Object.keys(shapeOf(plugin.options) ?? {}).join(', ');
      throw new UsageError(`${plugin.kind} has no option "${key}"; its options: ${known}`);
    }
    let holder = options;
    for (const part of path.slice(0, -1)) {
      const next = holder[part];
      holder[part] = next !== null && typeof next === 'object' ? next : {};
      holder = holder[part] as Record<string, unknown>;
    }
    holder[path[path.length - 1]!] = convert(key, text, baseType(schema));
  }
}

function convert(key: string, text: string, type: string): unknown {
  if (type === 'string' || type === 'enum' || type === 'literal' || type === 'unknown') {
    return text;
  }
  if (type === 'number' || type === 'int') {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n))
      throw new UsageError(`${key} takes a number, not "${text}"`);
    return n;
  }
  if (type === 'boolean') {
    if (text === 'true' || text === 'false') return text === 'true';
    throw new UsageError(`${key} takes true or false, not "${text}"`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${key} takes JSON (${type}); "${text}" is not JSON`);
  }
}

type AnySchema = z.ZodType & { _zod: { def: Record<string, unknown> } };

/** The schema with optional, default, nullable and pipe wrappers taken off. */
function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (let i = 0; i < 10; i++) {
    const def = s._zod.def;
    const inner = (def.innerType ?? (def.type === 'pipe' ? def.in : undefined)) as
      AnySchema | undefined;
    if (!inner) return s;
    s = inner;
  }
  return s;
}

function baseType(schema: AnySchema): string {
  return String(unwrap(schema)._zod.def.type);
}

function shapeOf(schema: z.ZodType): Record<string, AnySchema> | null {
  const s = unwrap(schema as AnySchema);
  return s._zod.def.type === 'object' ? (s._zod.def.shape as Record<string, AnySchema>) : null;
}

function schemaAt(schema: z.ZodType, path: readonly string[]): AnySchema | null {
  let current: AnySchema = schema as AnySchema;
  for (const part of path) {
    const shape = shapeOf(current);
    const next = shape?.[part];
    if (!next) return null;
    current = next;
  }
  return current;
}
