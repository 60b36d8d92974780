/**
 * Key material held in a buffer that is never logged or serialised and can be wiped.
 * `toString` and `toJSON` say `[secret]`, so an accidental log line leaks nothing.
 */
export class Secret {
  #bytes: Buffer | null;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  /** The bytes, for the moment of use. Throws once wiped. */
  reveal(): Buffer {
    if (!this.#bytes) throw new Error('secret used after it was wiped');
    return this.#bytes;
  }

  /** Overwrites the bytes with zeros. */
  wipe(): void {
    this.#bytes?.fill(0);
    this.#bytes = null;
  }

  toString(): string {
    return '[secret]';
  }

  toJSON(): string {
    return '[secret]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[secret]';
  }
}
