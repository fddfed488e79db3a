import type { Command } from 'commander';

/* Light at load time (the CLI loads every command module): the database modules are imported inside the action. */
export function registerPsql(program: Command): void {
  program
    .command('psql')
    .description("open Debian's psql on the database: DATABASE_URL, or the embedded PostgreSQL (started, or joined while `idgap start` runs); arguments after -- go to psql")
    .argument('[psql-args...]', 'passed to psql as they are, e.g. -- -c "select * from ops.v_diag_gap_summary"')
    .action(async (psqlArgs: string[]) => {
      const { spawn, spawnSync } = await import('node:child_process');
      const { UserError, withContext } = await import('../context.js');
      if (spawnSync('psql', ['--version'], { stdio: 'ignore' }).error) {
        throw new UserError('psql is not installed: run `apt-get install postgresql-client` (Debian), then `npx idgap psql` again');
      }
      await withContext({ migrate: false }, async ({ db }) => {
        const url = new URL(db.connectionString);
        // The connection goes through the environment, so the password never shows in the process list.
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          PGHOST: url.hostname,
          PGPORT: url.port || '5432',
          PGUSER: decodeURIComponent(url.username) || process.env.PGUSER,
          PGPASSWORD: decodeURIComponent(url.password) || process.env.PGPASSWORD,
          PGDATABASE: decodeURIComponent(url.pathname.slice(1)),
          PGAPPNAME: 'idgap-psql',
        };
        for (const key of ['PGUSER', 'PGPASSWORD']) if (env[key] === undefined) delete env[key];
        const sslmode = url.searchParams.get('sslmode');
        if (sslmode) env.PGSSLMODE = sslmode;
        // Ctrl-C belongs to psql (it cancels the query); idgap waits for psql, then stops the server it started.
        const ignore = () => undefined;
        process.on('SIGINT', ignore);
        try {
          const code = await new Promise<number>((resolve, reject) => {
            const child = spawn('psql', psqlArgs, { stdio: 'inherit', env });
            child.once('error', reject);
            child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
          });
          if (code !== 0) process.exitCode = code;
        } finally {
          process.off('SIGINT', ignore);
        }
      });
    });
}
