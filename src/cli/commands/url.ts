import type { Command } from 'commander';

/* Light at load time (the CLI loads every command module): the database modules are imported inside the action. */
export function registerUrl(program: Command): void {
  program
    .command('url')
    .description('print the connection URL of the database: DATABASE_URL, or the embedded PostgreSQL while it runs (`idgap start`); with its password')
    .action(async () => {
      const path = await import('node:path');
      const { loadConfig } = await import('../../config.js');
      const { UserError, selectedEmbeddedDatabase } = await import('../context.js');
      const { EMBEDDED_DB, runningEmbeddedUrl } = await import('../../db.js');
      const config = loadConfig();
      const database = selectedEmbeddedDatabase();
      if (config.DATABASE_URL) {
        if (database !== undefined) throw new UserError('--database names a database of the embedded PostgreSQL; with DATABASE_URL set, put the database name in DATABASE_URL instead');
        process.stdout.write(`${config.DATABASE_URL}\n`);
        return;
      }
      const home = config.IDGAP_HOME ?? path.resolve('.idgap');
      const url = await runningEmbeddedUrl(home, database ?? EMBEDDED_DB);
      if (!url) {
        throw new UserError(`the embedded PostgreSQL of ${home} is not running: keep it up with \`npx idgap start\` and run \`npx idgap url\` again, or open a session with \`npx idgap psql\``);
      }
      process.stdout.write(`${url}\n`);
    });
}
