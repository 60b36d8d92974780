import { describe, expect, it } from 'vitest';
import { requireWindows, runCommand } from './command.ts';

describe('runCommand', () => {
  it('hands the program its input on standard input and returns what it printed', async () => {
    const out = await runCommand(
      process.execPath,
      ['-e', "process.stdin.on('data', (d) => process.stdout.write(String(d).toUpperCase()))"],
      { input: 'secret-on-stdin' },
    );
    expect(out).toEqual({ stdout: 'SECRET-ON-STDIN', stderr: '', exitCode: 0 });
  });

  it('returns a failing exit code instead of throwing', async () => {
    const out = await runCommand(process.execPath, ['-e', 'process.exit(3)']);
    expect(out.exitCode).toBe(3);
  });

  it('throws when the program cannot be started', async () => {
    await expect(runCommand('/nonexistent/program', [])).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('says ENEEDSWINDOWS, naming the source, elsewhere than Windows', () => {
    expect(() => requireWindows('vda01', 'quser', 'linux')).toThrow(
      expect.objectContaining({
        code: 'ENEEDSWINDOWS',
        message: expect.stringMatching(/vda01.*needs Windows/),
      }),
    );
    expect(() => requireWindows('vda01', 'quser', 'win32')).not.toThrow();
  });
});
