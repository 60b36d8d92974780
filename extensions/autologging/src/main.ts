import { main } from './cli.ts';

// exceljs's zip writer (archiver 5) still calls `new Buffer()`. Node says so on every export,
// and since the bundle is not under node_modules the warning reaches the user, who can do
// nothing about it. Only that one deprecation is silenced; every other warning is shown.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((...args: unknown[]) => {
  const [, type, code] = args;
  const options = type as { code?: string } | undefined;
  if (code === 'DEP0005' || options?.code === 'DEP0005') return;
  emitWarning(...args);
}) as typeof process.emitWarning;

// The entry point of the bundle: the CLI, and later the window bridge's `link` mode.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`error EUNEXPECTED: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
