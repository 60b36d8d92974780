import fs from 'node:fs';
import util from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseJsonc } from '../../jsonc.ts';
import { agentNameOf, mssqlSettings, poolConfig, secretsOf } from './settings.ts';

const PASSWORD = 'Sup3r-S3cret!';
const sqlLogin = {
  server: 'db01.corp.example',
  database: 'AutoLogging',
  authentication: 'sql',
  user: 'autologging',
  password: PASSWORD,
};

describe('mssqlSettings', () => {
  it('fills in the defaults: port 1433, TLS on, the certificate checked', () => {
    const settings = mssqlSettings.parse(sqlLogin);
    expect(settings).toMatchObject({
      port: 1433,
      encrypt: true,
      trustServerCertificate: false,
      connectTimeoutMs: 15_000,
      requestTimeoutMs: 300_000,
      batchSize: 5_000,
      batchBytes: 16 * 1024 * 1024,
      retentionYears: 3,
      applySchema: true,
    });
  });

  it('accepts the annotated example, whose values are the defaults', () => {
    const example = parseJsonc(
      fs.readFileSync(new URL('./example.jsonc', import.meta.url), 'utf8'),
    );
    const parsed = mssqlSettings.parse(example);
    const defaults = mssqlSettings.parse({ ...sqlLogin, server: parsed.server });
    expect({ ...parsed, password: null }).toEqual({ ...defaults, password: null });
  });

  it('wraps the password so that it shows in no log line, JSON or inspection', () => {
    const settings = mssqlSettings.parse(sqlLogin);
    expect(JSON.stringify(settings)).not.toContain(PASSWORD);
    expect(util.inspect(settings, { depth: 5 })).not.toContain(PASSWORD);
    expect(String(settings.password)).toBe('[secret]');
    expect(secretsOf(settings)).toEqual([PASSWORD]);
  });

  it('accepts a Windows account with its domain (NTLM)', () => {
    const settings = mssqlSettings.parse({
      ...sqlLogin,
      authentication: 'windows',
      domain: 'CORP',
    });
    expect(settings.authentication).toBe('windows');
  });

  it('asks for the domain of a Windows account', () => {
    const result = mssqlSettings.safeParse({ ...sqlLogin, authentication: 'windows' });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain('domain');
  });

  it.each([
    ['authentication', { ...sqlLogin, authentication: 'kerberos' }],
    ['retentionYears', { ...sqlLogin, retentionYears: 2 }],
    ['port', { ...sqlLogin, port: 70_000 }],
    ['batchSize', { ...sqlLogin, batchSize: 0 }],
    ['server', { ...sqlLogin, server: '  ' }],
    ['password', { ...sqlLogin, password: '' }],
    ['encrypt', { ...sqlLogin, encrypt: 'yes' }],
  ])('names the bad setting %s', (option, raw) => {
    const result = mssqlSettings.safeParse(raw);
    expect(result.success).toBe(false);
    const text = JSON.stringify(result.error?.issues);
    expect(text).toContain(option);
    expect(text).not.toContain(PASSWORD);
  });

  it('rejects unknown keys', () => {
    expect(mssqlSettings.safeParse({ ...sqlLogin, pasword: 'x' }).success).toBe(false);
  });

  it('keeps no password out of an error about another setting', () => {
    const result = mssqlSettings.safeParse({ ...sqlLogin, port: 'x' });
    expect(JSON.stringify(result.error)).not.toContain(PASSWORD);
  });
});

describe('poolConfig', () => {
  it('gives a SQL login its user and password, TLS on and the certificate checked', () => {
    const config = poolConfig(mssqlSettings.parse(sqlLogin));
    expect(config).toMatchObject({
      server: 'db01.corp.example',
      port: 1433,
      database: 'AutoLogging',
      user: 'autologging',
      password: PASSWORD,
      options: { encrypt: true, trustServerCertificate: false, useUTC: true },
    });
  });

  it('gives a Windows account NTLM with its domain', () => {
    const config = poolConfig(
      mssqlSettings.parse({ ...sqlLogin, authentication: 'windows', domain: 'CORP' }),
    );
    expect(config.authentication).toEqual({
      type: 'ntlm',
      options: { domain: 'CORP', userName: 'autologging', password: PASSWORD },
    });
    expect(config.user).toBeUndefined();
  });

  it('lets SQL Server Browser find a named instance instead of using the port', () => {
    const config = poolConfig(mssqlSettings.parse({ ...sqlLogin, instance: 'SQLEXPRESS' }));
    expect(config.port).toBeUndefined();
    expect(config.options?.instanceName).toBe('SQLEXPRESS');
  });

  it('trusts a self-signed certificate only when told to', () => {
    const config = poolConfig(mssqlSettings.parse({ ...sqlLogin, trustServerCertificate: true }));
    expect(config.options?.trustServerCertificate).toBe(true);
  });
});

describe('agentNameOf', () => {
  it('uses the agent name when set, else the host name', () => {
    expect(agentNameOf(mssqlSettings.parse({ ...sqlLogin, agentName: 'vda-logger-1' }))).toBe(
      'vda-logger-1',
    );
    expect(agentNameOf(mssqlSettings.parse(sqlLogin)).length).toBeGreaterThan(0);
  });
});
