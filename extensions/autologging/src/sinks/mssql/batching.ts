/** How big one batch (one SQL Server transaction) may grow. */
export interface BatchLimits {
  /** Most items in a batch, at least 1. */
  maxRecords: number;
  /** Most estimated bytes in a batch, at least 1. A single larger item still goes, alone. */
  maxBytes: number;
}

/**
 * Cuts `items` into consecutive batches, in order, each holding at most `maxRecords` items and
 * at most `maxBytes` by `sizeOf`, except that an item larger than `maxBytes` forms a batch of
 * its own: nothing is ever dropped or reordered. Throws `RangeError` for limits below 1.
 */
export function splitIntoBatches<T>(
  items: readonly T[],
  limits: BatchLimits,
  sizeOf: (item: T) => number,
): T[][] {
  if (!(limits.maxRecords >= 1) || !(limits.maxBytes >= 1)) {
    throw new RangeError(
      `batch limits must be at least 1, not ${limits.maxRecords} records, ` +
        `${limits.maxBytes} bytes`,
    );
  }
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Math.max(0, sizeOf(item));
    const full = current.length >= limits.maxRecords || bytes + size > limits.maxBytes;
    if (current.length > 0 && full) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * An estimate of what a stored row costs on the wire: UTF-16 text, binary as is, 8 bytes a
 * number, plus a small overhead per column. Only used to keep batches of a bounded size.
 */
export function rowBytes(row: Readonly<Record<string, unknown>>): number {
  let bytes = 0;
  for (const value of Object.values(row)) {
    bytes += 4;
    if (typeof value === 'string') bytes += value.length * 2;
    else if (value instanceof Uint8Array) bytes += value.byteLength;
    else if (typeof value === 'number' || typeof value === 'bigint') bytes += 8;
    else if (value instanceof Date) bytes += 8;
    else if (typeof value === 'boolean') bytes += 1;
  }
  return bytes;
}
