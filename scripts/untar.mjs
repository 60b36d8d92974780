// A small reader of tar archives (plain or gzipped), enough for the tarballs `npm pack`
// writes: ustar headers with a name prefix, pax extended headers and GNU long names. It is
// used by dist.mjs to take one file (a Node binary) out of a registry package.
import { gunzipSync } from 'node:zlib';

const BLOCK = 512;

/** The NUL-terminated text of `header[start, start + length)`. */
function field(header, start, length) {
  const bytes = header.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
}

/** An octal number field (sizes and the checksum). */
function octal(header, start, length) {
  if (header[start] & 0x80) throw new Error('tar: base-256 sizes are not supported');
  const text = field(header, start, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

/** Whether the header's checksum (its bytes, the checksum field read as spaces) holds. */
function checksumHolds(header) {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  return sum === octal(header, 148, 8);
}

/** The `key=value` records of a pax extended header (`<length> <key>=<value>\n` each). */
function paxRecords(data) {
  const records = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = parseInt(data.subarray(at, space).toString('utf8'), 10);
    if (!(length > 0)) break;
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals > 0) records[record.slice(0, equals)] = record.slice(equals + 1);
    at += length;
  }
  return records;
}

/**
 * The entries of a tar archive, in order: `{ name, type, data }`, where `type` is the header's
 * type flag ('0' a file, '5' a folder, '2' a symbolic link...) and `data` a view of the bytes.
 * A gzipped archive is unpacked first. Throws on a damaged header.
 */
export function* tarEntries(archive) {
  const tar = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  let next = {}; // what a pax or GNU long-name header says about the entry after it
  for (let at = 0; at + BLOCK <= tar.length;) {
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((byte) => byte === 0)) break; // the end: two zero blocks
    if (!checksumHolds(header)) throw new Error(`tar: bad header checksum at byte ${at}`);
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156] || 0x30); // an old '\0' means a file
    const data = tar.subarray(at + BLOCK, at + BLOCK + size);
    if (data.length < size) throw new Error('tar: archive ends inside an entry');
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'x') next = { ...next, ...paxRecords(data) };
    else if (type === 'L') next = { ...next, path: field(data, 0, data.length) };
    else if (type !== 'g' && type !== 'K') {
      const prefix = field(header, 257, 6) === 'ustar' ? field(header, 345, 155) : '';
      const name = next.path ?? (prefix ? `${prefix}/` : '') + field(header, 0, 100);
      next = {};
      yield { name: name.replace(/^\.\//, ''), type, data };
    }
  }
}

/** The bytes of the file `name` in a tar archive (plain or gzipped), or undefined. */
export function readTarFile(archive, name) {
  for (const entry of tarEntries(archive)) {
    if (entry.name === name && entry.type === '0') return entry.data;
  }
  return undefined;
}
