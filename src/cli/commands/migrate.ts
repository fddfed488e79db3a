import type { Command } from 'commander';
import { printJson, withContext } from '../context.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('install or update the worker schema, the migrations and the sql/ objects (idempotent)')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (opts: { json?: boolean }) => {
      const { migrateDatabase } = await import('../../migrate.js');
      await withContext({ migrate: false }, async ({ db, log }) => {
        const result = await migrateDatabase(db.connectionString, log);
        if (opts.json) printJson(result);
        else process.stdout.write(`schema up to date (${result.sqlObjectsApplied} sql/ objects applied, ${result.durationMs} ms)\n`);
      });
    });
}
