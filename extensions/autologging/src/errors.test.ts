import { describe, expect, it } from 'vitest';
import { AbortedError, SourceError, describeError, errorCode, sleep } from './errors.ts';

describe('sleep', () => {
  it('throws AbortedError as soon as the signal fires', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await expect(sleep(10_000, controller.signal, 'a test')).rejects.toBeInstanceOf(AbortedError);
  });
});
describe('error codes', () => {
  it('reads our codes, Node system codes, and says EUNEXPECTED for anything else', () => {
    expect(errorCode(new SourceError('ECONNREFUSED', 'ddc', 'refused'))).toBe('ECONNREFUSED');
    expect(errorCode(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe('ENOENT');
    expect(errorCode(new Error('plain'))).toBe('EUNEXPECTED');
    expect(errorCode('a string')).toBe('EUNEXPECTED');
    expect(describeError(new SourceError('EAUTH', 'ddc', 'refused the login'))).toBe(
      'EAUTH: source ddc: refused the login',
    );
  });
});
