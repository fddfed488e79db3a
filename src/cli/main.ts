import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { isUserFacing, selectEmbeddedDatabase } from './context.js';
import { commands } from './commands/index.js';
import { PROJECT_ROOT } from '../paths.js';

/*
 * Start-up loads commander and the command definitions only: each command imports its heavy modules (the database,
 * the worker, the API, the generator) inside its action, after checking its arguments.
 */
const version = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const program = new Command();
program
  .name('idgap')
  .description('Identity gap recovery: measure, recover and monitor the leads without a person or origin.')
  .version(version, '-V, --version', 'print the version of idgap')
  .option(
    '--database <name>',
    'the embedded PostgreSQL database to use (default: idgap; created when missing); --database idgap_demo explores the demo\'s data',
  )
  .configureOutput({
    /* Commander's own errors (unknown option, missing argument): one line in the style of every idgap error. */
    outputError: (text, write) => write(`${text.replace(/^error: /, 'idgap: ').trimEnd()} (see --help)\n`),
  })
  .exitOverride()
  .hook('preAction', (root) => selectEmbeddedDatabase(root.opts<{ database?: string }>().database));
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
