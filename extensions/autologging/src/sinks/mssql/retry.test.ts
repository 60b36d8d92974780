import { describe, expect, it } from 'vitest';
import { MssqlError, safeMessage } from './errors.ts';
import { driverError } from './memory-sink.ts';
import { backoffDelay, classifyError } from './retry.ts';

/** A RequestError as `mssql` makes it from a server message. */
const serverError = (number: number, message = `server error ${number}`) =>
  Object.assign(new Error(message), { name: 'RequestError', code: 'EREQUEST', number });

describe('classifyError', () => {
  const cases: Array<[string, unknown, string, string]> = [
    ['a deadlock (1205) is retried', serverError(1205), 'retry', 'EMSSQLDEADLOCK'],
    ['a lock timeout (1222) is retried', serverError(1222), 'retry', 'EMSSQLBUSY'],
    ['a duplicate key race (2627) is retried', serverError(2627), 'retry', 'EMSSQLCONFLICT'],
    ['a refused login (18456) stops', serverError(18456), 'stop', 'EMSSQLLOGIN'],
    ['a locked-out account (18486) stops', serverError(18486), 'stop', 'EMSSQLLOGIN'],
    ['permission denied on an object (229) stops', serverError(229), 'stop', 'EMSSQLPERMISSION'],
    ['permission denied on a column (230) stops', serverError(230), 'stop', 'EMSSQLPERMISSION'],
    ['CREATE permission denied (262) stops', serverError(262), 'stop', 'EMSSQLPERMISSION'],
    ['no permission for the action (297) stops', serverError(297), 'stop', 'EMSSQLPERMISSION'],
    ['a server permission (300) stops', serverError(300), 'stop', 'EMSSQLPERMISSION'],
    ['no access to the database (916) stops', serverError(916), 'stop', 'EMSSQLPERMISSION'],
    ['no right to create the schema (2760) stops', serverError(2760), 'stop', 'EMSSQLPERMISSION'],
    ['a missing table (208) stops', serverError(208), 'stop', 'EMSSQLSCHEMA'],
    ['a missing procedure (2812) stops', serverError(2812), 'stop', 'EMSSQLSCHEMA'],
    ['a truncated value (2628) stops', serverError(2628), 'stop', 'EMSSQLDATA'],
    [
      'a database in recovery (4060) reconnects',
      serverError(4060),
      'reconnect',
      'EMSSQLUNAVAILABLE',
    ],
    [
      'an Azure reconfiguration (40613) reconnects',
      serverError(40613),
      'reconnect',
      'EMSSQLUNAVAILABLE',
    ],
    [
      'a socket error reconnects',
      driverError('Connection lost - read ECONNRESET', { code: 'ESOCKET' }),
      'reconnect',
      'EMSSQLCONNECTION',
    ],
    [
      'a closed connection reconnects',
      driverError('Connection is closed.', { code: 'ECONNCLOSED' }),
      'reconnect',
      'EMSSQLCONNECTION',
    ],
    [
      'a timeout reconnects',
      driverError('Timeout: Request failed to complete in 15000ms', { code: 'ETIMEOUT' }),
      'reconnect',
      'EMSSQLTIMEOUT',
    ],
    [
      'a refused TCP connection found in the cause reconnects',
      Object.assign(new Error('Failed to connect'), {
        code: 'ESOCKET',
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      }),
      'reconnect',
      'EMSSQLCONNECTION',
    ],
    [
      'a login refusal without a number stops',
      driverError("Login failed for user 'autologging'.", { code: 'ELOGIN' }),
      'stop',
      'EMSSQLLOGIN',
    ],
    [
      'a database that cannot be opened yet at login reconnects',
      driverError('Cannot open database "AutoLogging" requested by the login.', { code: 'ELOGIN' }),
      'reconnect',
      'EMSSQLUNAVAILABLE',
    ],
    [
      'a self-signed certificate stops',
      Object.assign(new Error('Failed to connect'), {
        code: 'ESOCKET',
        cause: Object.assign(new Error('self-signed certificate'), {
          code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
        }),
      }),
      'stop',
      'EMSSQLTLS',
    ],
    [
      'a deadlock reported among preceding errors is retried',
      Object.assign(new Error('The statement has been terminated.'), {
        code: 'EREQUEST',
        number: 3621,
        precedingErrors: [serverError(1205)],
      }),
      'retry',
      'EMSSQLDEADLOCK',
    ],
    [
      'a number in the driver error info is found',
      Object.assign(new Error('wrapped'), {
        originalError: Object.assign(new Error('inner'), { info: { number: 18456 } }),
      }),
      'stop',
      'EMSSQLLOGIN',
    ],
    [
      'one of several connection attempts failing the login stops',
      new AggregateError([driverError('x', { code: 'ESOCKET' }), serverError(18456)], 'all failed'),
      'stop',
      'EMSSQLLOGIN',
    ],
    ['an unknown error is retried', new Error('something odd'), 'retry', 'EMSSQLFAILED'],
    ['a thrown string is retried', 'odd', 'retry', 'EMSSQLFAILED'],
    [
      'an MssqlError keeps its class',
      new MssqlError('EMSSQLCURSOR', 'moved', { recovery: 'retry' }),
      'retry',
      'EMSSQLCURSOR',
    ],
  ];

  it.each(cases)('%s', (_name, error, recovery, code) => {
    expect(classifyError(error)).toMatchObject({ recovery, code });
  });

  it('stops on a certificate error carried as the outer code', () => {
    const error = driverError('certificate has expired', { code: 'CERT_HAS_EXPIRED' });
    expect(classifyError(error)).toMatchObject({ recovery: 'stop', code: 'EMSSQLTLS' });
  });

  it('reports the SQL Server number', () => {
    expect(classifyError(serverError(1205)).number).toBe(1205);
    expect(classifyError(driverError('x', { code: 'ESOCKET' })).number).toBeNull();
  });
});

describe('backoffDelay', () => {
  const policy = { baseMs: 1_000, maxMs: 60_000 };

  it.each([
    [1, 500, 1_000],
    [2, 1_000, 2_000],
    [3, 2_000, 4_000],
    [6, 16_000, 32_000],
    [7, 30_000, 60_000],
    [50, 30_000, 60_000],
    [10_000, 30_000, 60_000],
  ])('waits between half and all of the ceiling before retry %i', (attempt, low, high) => {
    expect(backoffDelay(attempt, policy, () => 0)).toBe(low);
    expect(backoffDelay(attempt, policy, () => 0.999_999)).toBeLessThanOrEqual(high);
    expect(backoffDelay(attempt, policy, () => 0.999_999)).toBeGreaterThan(high * 0.99);
  });

  it('never exceeds the maximum, whatever the random source returns', () => {
    for (const r of [-1, 0, 0.5, 1, 2, Number.NaN]) {
      const delay = backoffDelay(100, policy, () => r);
      expect(delay).toBeGreaterThanOrEqual(30_000);
      expect(delay).toBeLessThanOrEqual(60_000);
    }
  });

  it('spreads agents that failed together', () => {
    let seed = 7;
    const random = () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(5, policy, random)));
    expect(delays.size).toBeGreaterThan(15);
  });
});

describe('safeMessage', () => {
  it('removes the password wherever it appears', () => {
    const error = new Error("Login failed for user 'sa' with password 'S3cret!' (S3cret!)");
    expect(safeMessage(error, ['S3cret!'])).toBe(
      "Login failed for user 'sa' with password '***' (***)",
    );
  });

  it('hides a value SQL Server echoes in a truncation error', () => {
    const error = new Error(
      "String or binary data would be truncated in table 'x', column 'y'. Truncated value: 'minjun'.",
    );
    expect(safeMessage(error)).not.toContain('minjun');
  });

  it('keeps messages short', () => {
    expect(safeMessage(new Error('x'.repeat(2000))).length).toBe(500);
  });
});
