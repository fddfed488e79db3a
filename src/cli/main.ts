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
    const message = explainDatabaseError(e) ?? (e instanceof Error ? e.message : String(e));
    process.stderr.write(`idgap: ${message}\n`);
    if (!isUserFacing(e) && process.env.LOG_LEVEL === 'debug' && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  }
}

/** Connection failures, said so a person knows what to fix (the URL's password is never printed). */
function explainDatabaseError(e: unknown): string | undefined {
  const code = (e as { code?: string }).code;
  const message = e instanceof Error ? e.message : String(e);
  const where = process.env.DATABASE_URL ? 'DATABASE_URL' : 'the embedded PostgreSQL';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT')
    return `cannot reach the database server of ${where} (${message}): is it running, and are the host and port right?`;
  if (code === '28P01' || code === '28000') return `the database refused the login of ${where} (${message}): check the user and password`;
  if (code === '3D000') return `${message}: create it, or fix the database name in ${where}`;
  return undefined;
}
