import { Command, CommanderError } from 'commander';
import { isUserFacing } from './context.js';
import { commands } from './commands/index.js';

const program = new Command();
program
  .name('idgap')
  .description('Identity gap recovery: measure, recover and monitor the leads without a person or origin.')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();
for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode;
  } else {
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`idgap: ${message}\n`);
    if (!isUserFacing(e) && process.env.LOG_LEVEL === 'debug' && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  }
}
