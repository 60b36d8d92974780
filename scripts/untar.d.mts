// Types of untar.mjs, for the tests that import it.

/** One entry of a tar archive; `type` is the header's type flag ('0' a file, '5' a folder). */
export interface TarEntry {
  name: string;
  type: string;
  data: Buffer;
}

export function tarEntries(archive: Buffer): Generator<TarEntry, void, undefined>;

export function readTarFile(archive: Buffer, name: string): Buffer | undefined;
