import { main } from './cli.ts';

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
