import { CryptoError } from '../errors.ts';
import type { CommandRunner } from '../platform/command.ts';

/**
 * Windows DPAPI in machine scope: what `protect` returns only this machine can `unprotect`,
 * whichever account runs the agent (the service account, or an administrator at the console).
 */
export interface Dpapi {
  protect(plain: Buffer): Promise<Buffer>;
  unprotect(blob: Buffer): Promise<Buffer>;
}

const POWERSHELL = 'powershell.exe';

/**
 * DPAPI through PowerShell's `ProtectedData` class, run by `run`; null on any system but
 * Windows, where DPAPI is not offered. The bytes travel as base64 inside the command; the
 * result comes back as base64 on standard output.
 *
 * Throws `CryptoError` `EDPAPI` when PowerShell fails; the message gives its exit code only,
 * since PowerShell may echo the command (and so the key) in its error text.
 */
export function windowsDpapi(
  run: CommandRunner,
  platform: NodeJS.Platform = process.platform,
): Dpapi | null {
  if (platform !== 'win32') return null;
  const call = async (method: 'Protect' | 'Unprotect', input: Buffer): Promise<Buffer> => {
    // The key travels on standard input: a command line is visible to other processes.
    const result = await run(
      POWERSHELL,
      ['-NoProfile', '-NonInteractive', '-Command', dpapiScript(method)],
      { timeoutMs: 60_000, input: input.toString('base64') },
    );
    const text = result.stdout.trim();
    if (result.exitCode !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
      throw new CryptoError(
        'EDPAPI',
        `Windows DPAPI ${method.toLowerCase()} failed (PowerShell exit code ${result.exitCode})`,
      );
    }
    return Buffer.from(text, 'base64');
  };
  return {
    protect: (plain) => call('Protect', plain),
    unprotect: (blob) => call('Unprotect', blob),
  };
}

/**
 * The PowerShell script that runs `ProtectedData.<method>` in machine scope, reading base64 from
 * standard input and printing base64.
 */
export function dpapiScript(method: 'Protect' | 'Unprotect'): string {
  return [
    "$ErrorActionPreference = 'Stop'",
    'Add-Type -AssemblyName System.Security',
    '$in = [Convert]::FromBase64String([Console]::In.ReadToEnd().Trim())',
    '$scope = [System.Security.Cryptography.DataProtectionScope]::LocalMachine',
    `$out = [System.Security.Cryptography.ProtectedData]::${method}($in, $null, $scope)`,
    '[Convert]::ToBase64String($out)',
  ].join('; ');
}
