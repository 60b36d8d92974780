import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../../tests/support/temp.ts';
import { FieldCipher } from '../crypto/field-cipher.ts';
import { openKeyring } from '../crypto/keyring.ts';
import { SecretVault, placeholderSecrets, resolveSecrets, sealSecrets } from './secrets.ts';

function vault(home = tempDir()) {
  return { home, vault: SecretVault.open(home, new FieldCipher(openKeyring({ home }))) };
}

describe('secret vault', () => {
  it('moves plain secrets out of settings into the vault, named after where they sat', () => {
    const { home, vault: v } = vault();
    const raw = {
      sources: [
        {
          id: 'odata',
          kind: 'x',
          options: { user: 'svc', password: 'Pa$$w0rd!', clientSecret: '' },
        },
      ],
    };
    expect(sealSecrets(raw, v)).toBe(true);
    v.save();

    expect(raw.sources[0]!.options).toEqual({
      user: 'svc',
      password: { $secret: 'sources.odata.options.password' },
      clientSecret: '',
    });
    expect(fs.readFileSync(path.join(home, 'secrets.json'), 'utf8')).not.toContain('Pa$$w0rd!');
    expect(fs.statSync(path.join(home, 'secrets.json')).mode & 0o777).toBe(0o600);
    expect(sealSecrets(raw, v)).toBe(false);

    const reopened = SecretVault.open(home, new FieldCipher(openKeyring({ home })));
    expect(resolveSecrets(raw, reopened)).toEqual({
      sources: [
        {
          id: 'odata',
          kind: 'x',
          options: { user: 'svc', password: 'Pa$$w0rd!', clientSecret: '' },
        },
      ],
    });
    expect(placeholderSecrets(raw)).toMatchObject({ sources: [{ options: { password: '***' } }] });
  });

  it('says ESECRET when settings refer to a secret the vault does not hold', () => {
    const { vault: v } = vault();
    expect(() => resolveSecrets({ password: { $secret: 'gone' } }, v)).toThrow(
      expect.objectContaining({ code: 'ESECRET', message: expect.stringContaining('"gone"') }),
    );
  });

  it('refuses a secret that was altered or moved to another name', () => {
    const { home, vault: v } = vault();
    v.set('a', 'one');
    v.save();
    const file = path.join(home, 'secrets.json');
    const content = JSON.parse(fs.readFileSync(file, 'utf8'));
    content.secrets.b = content.secrets.a;
    fs.writeFileSync(file, JSON.stringify(content));
    const reopened = SecretVault.open(home, new FieldCipher(openKeyring({ home })));
    expect(reopened.get('a')).toBe('one');
    expect(() => reopened.get('b')).toThrow(expect.objectContaining({ code: 'ECIPHERTEXT' }));
  });
});
