/**
 * Splitting what a command printed into rows: JSON (an array, `{ "value": [...] }` as OData
 * writes it, or a single object as PowerShell writes one), NDJSON (one object a line) or CSV.
 */
import { parseCsv } from './csv.ts';
import type { Row } from './mapping.ts';

/** The formats a `command` source reads. */
export type OutputFormat = 'json' | 'ndjson' | 'csv';

/** One row with where it was (`row 3`, `line 7`), or why that place could not be read. */
export type OutputRow = { row: Row; where: string } | { problem: string; where: string };

/** Thrown when JSON output as a whole cannot be read; the message never repeats the output. */
export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputError';
  }
}

/**
 * The rows of a command's output, in order. A CSV record or NDJSON line that cannot be read is
 * a problem in its place; JSON output that is not JSON, or holds no objects, throws
 * `OutputError`. A leading byte order mark is ignored; blank output has no rows.
 */
export function readOutput(text: string, format: OutputFormat, delimiter = ','): OutputRow[] {
  const output = text.replace(/^\uFEFF/, '');
  if (format === 'csv') return csvRows(output, delimiter);
  if (format === 'ndjson') return ndjsonRows(output);
  return jsonRows(output);
}

function csvRows(text: string, delimiter: string): OutputRow[] {
  const table = parseCsv(text, delimiter);
  const placed = [
    ...table.rows.map((r) => ({
      line: r.line,
      item: { row: r.values as Row, where: `line ${r.line}` },
    })),
    ...table.problems.map((p) => ({
      line: p.line,
      item: { problem: p.reason, where: `line ${p.line}` },
    })),
  ];
  return placed.sort((a, b) => a.line - b.line).map((p) => p.item);
}

function ndjsonRows(text: string): OutputRow[] {
  return text.split(/\r?\n/).flatMap((line, i): OutputRow[] => {
    if (line.trim() === '') return [];
    const where = `line ${i + 1}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return [{ problem: 'is not JSON', where }];
    }
    return [isObject(parsed) ? { row: parsed, where } : { problem: 'is not a JSON object', where }];
  });
}

function jsonRows(text: string): OutputRow[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new OutputError(`printed ${trimmed.length} characters that are not JSON`);
  }

  let list: unknown[];
  if (Array.isArray(parsed)) list = parsed;
  else if (isObject(parsed) && Array.isArray(parsed['value'])) list = parsed['value'];
  else if (isObject(parsed)) list = [parsed];
  else throw new OutputError('printed JSON that is neither an object nor a list');

  return list.map((item, i) => {
    const where = `row ${i + 1}`;
    return isObject(item) ? { row: item, where } : { problem: 'is not a JSON object', where };
  });
}

function isObject(value: unknown): value is Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
