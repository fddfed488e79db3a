import type { Command } from 'commander';

/* Light at load time (the CLI loads every command module): the database modules are imported inside the action. */
export function registerUrl(program: Command): void {
  program
    .command('url')
    .description('print the connection URL of the database: DATABASE_URL, or the embedded PostgreSQL while it runs (`idgap start`); with its password')
    .option('--database <name>', 'the database in the URL (embedded: idgap; the demo writes to idgap_demo)')
    .action(async (opts: { database?: string }) => {
      const path = await import('node:path');
      const { loadConfig } = await import('../../config.js');
      const { UserError } = await import('../context.js');
      const { EMBEDDED_DB, runningEmbeddedUrl } = await import('../../db.js');
      const config = loadConfig();
      if (config.DATABASE_URL) {
        const url = new URL(config.DATABASE_URL);
        if (opts.database) url.pathname = `/${encodeURIComponent(opts.database)}`;
        process.stdout.write(`${url.toString()}\n`);
        return;
      }
      const home = config.IDGAP_HOME ?? path.resolve('.idgap');
      const url = await runningEmbeddedUrl(home, opts.database ?? EMBEDDED_DB);
      if (!url) {
        throw new UserError(`the embedded PostgreSQL of ${home} is not running: keep it up with \`npx idgap start\` and run \`npx idgap url\` again, or open a session with \`npx idgap psql\``);
      }
      process.stdout.write(`${url}\n`);
    });
}
