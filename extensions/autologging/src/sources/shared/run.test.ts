import { describe, expect, it } from 'vitest';
import { AbortedError } from '../../errors.ts';
import type { CommandRunner } from '../../platform/command.ts';
import { maskPersonal } from './diagnose.ts';
import { runChecked, runDecoded } from './run.ts';
import type { CommandRequest } from './run.ts';

const request = (signal = new AbortController().signal): CommandRequest => ({
  file: 'tool.exe',
  args: ['--secret', 'hunter2'],
  shown: 'tool.exe',
  encoding: 'windows-949',
  timeoutMs: 5000,
  signal,
});

const answering =
  (stdout: Buffer, stderr = '', exitCode = 0): CommandRunner =>
  async (_file, _args, options) => ({
    stdout: stdout.toString(options?.encoding ?? 'utf8'),
    stderr: Buffer.from(stderr).toString(options?.encoding ?? 'utf8'),
    exitCode,
  });

describe('runDecoded', () => {
  it('asks for the bytes and decodes them with the requested encoding', async () => {
    // "활성" in code page 949.
    const run = answering(Buffer.from([0xc8, 0xb0, 0xbc, 0xba]));
    expect(await runDecoded({ id: 's', run }, request())).toEqual({
      stdout: '활성',
      stderr: '',
      exitCode: 0,
    });
  });

  it('says ETIMEOUT when the runner stopped the program for running too long', async () => {
    const run: CommandRunner = async () => {
      throw Object.assign(new Error('Command failed'), { killed: true, signal: 'SIGTERM' });
    };
    await expect(runDecoded({ id: 's', run }, request())).rejects.toMatchObject({
      code: 'ETIMEOUT',
      message: 'source s: tool.exe did not finish within 5 s and was stopped',
    });
  });

  it("says how a program ended by a signal, without Node's message that repeats the arguments", async () => {
    const run: CommandRunner = async () => {
      throw Object.assign(new Error('Command failed: tool.exe --secret hunter2'), {
        killed: false,
        code: null,
        signal: 'SIGKILL',
      });
    };
    const failure = runDecoded({ id: 's', run }, request());
    await expect(failure).rejects.toMatchObject({
      code: 'ECOMMAND',
      message: 'source s: tool.exe was ended by SIGKILL',
    });
  });

  it('says when the program was not found', async () => {
    const run: CommandRunner = async () => {
      throw Object.assign(new Error('spawn tool.exe ENOENT'), { code: 'ENOENT' });
    };
    await expect(runDecoded({ id: 's', run }, request())).rejects.toMatchObject({
      code: 'ECOMMAND',
      message: 'source s: tool.exe could not be started: the program was not found',
    });
  });

  it('says AbortedError when the agent stopped it', async () => {
    const controller = new AbortController();
    const run: CommandRunner = async () => {
      controller.abort();
      throw new Error('The operation was aborted');
    };
    await expect(runDecoded({ id: 's', run }, request(controller.signal))).rejects.toBeInstanceOf(
      AbortedError,
    );
  });
});

describe('runChecked', () => {
  it('names the program, the exit code and the first error line, never stdout or args', async () => {
    const run = answering(Buffer.from('CORP\\minjun.kim'), '\r\n  Access is denied.\r\nmore', 5);
    const failure = runChecked({ id: 's', run }, { ...request(), encoding: 'utf-8' });
    await expect(failure).rejects.toMatchObject({
      code: 'ECOMMAND',
      message: 'source s: tool.exe exited with code 5: Access is denied.',
    });
    await expect(failure).rejects.not.toThrow(/minjun|hunter2/);
  });
});

describe('maskPersonal', () => {
  it('masks the personal fields that hold a value and leaves the rest', () => {
    const masked = maskPersonal({
      kind: 'event',
      key: 'k',
      type: 'logon',
      at: 1,
      user: 'minjun.kim',
      domain: 'CORP',
      machine: 'VDA01',
      sessionKey: null,
      clientName: null,
      clientAddress: '10.20.1.15',
      code: null,
      detail: null,
    });
    expect(masked).toMatchObject({ user: '***', clientName: null, clientAddress: '***' });
    expect(masked).toMatchObject({ domain: 'CORP', machine: 'VDA01' });
  });
});
