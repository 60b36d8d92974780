/**
 * Connection tests shared by the command-running sources: one capture, turned into a
 * `Diagnosis` an administrator can act on.
 */
import { errorCode } from '../../errors.ts';
import { PERSONAL_FIELDS } from '../../records.ts';
import type { CaptureRecord } from '../../records.ts';
import type { CaptureResult, Diagnosis } from '../types.ts';

/** A copy of `record` with every personal field that holds a value replaced by `'***'`. */
export function maskPersonal(record: CaptureRecord): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...record };
  for (const field of PERSONAL_FIELDS[record.kind]) {
    if (copy[field] !== null && copy[field] !== undefined) copy[field] = '***';
  }
  return copy;
}

/** What a test says when it read nothing, and what it read when it did. */
export interface DiagnosisWords {
  /** E.g. "quser ran on VDA01". */
  reached: string;
  /** E.g. "nobody is logged on". */
  empty: string;
  /** E.g. "sessions". */
  noun: string;
}

/**
 * Runs `attempt` (a capture, or the start of one) and describes the outcome. Never throws: a
 * thrown error becomes a diagnosis with its code; rejected records make the test fail with the
 * first problem's code; no records give `ENODATA` (reachable, nothing there). The sample is the
 * first record with its personal fields masked.
 */
export async function diagnose(
  attempt: () => Promise<CaptureResult>,
  words: DiagnosisWords,
): Promise<Diagnosis> {
  let result: CaptureResult;
  try {
    result = await attempt();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, code: errorCode(error), message };
  }

  const count = result.records.length;
  const first = result.records[0];
  const sample = first ? { sample: maskPersonal(first) } : {};
  const problem = result.rejected?.[0];
  if (problem) {
    const rejected = result.rejected?.length ?? 0;
    return {
      ok: false,
      code: problem.code,
      message: `${words.reached}, but ${rejected} of what it printed could not be read: ${problem.message}`,
      count,
      ...sample,
    };
  }
  if (count === 0) {
    return { ok: true, code: 'ENODATA', message: `${words.reached}; ${words.empty}`, count };
  }
  return {
    ok: true,
    code: 'OK',
    message: `${words.reached} and read ${count} ${words.noun}`,
    count,
    ...sample,
  };
}
