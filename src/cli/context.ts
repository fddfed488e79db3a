import path from 'node:path';
import pg from 'pg';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { createPool, resolveDatabase, type Database } from '../db.js';
import { createLogger, setLogger, type Log } from '../log.js';
import { migrateDatabase } from '../migrate.js';

/** A failure a person can fix: printed as one line, exit code 1, no stack trace. */
export class UserError extends Error {
  override name = 'UserError';
}

export interface Context {
  config: Config;
  log: Log;
  db: Database;
  pool: pg.Pool;
}

export interface ContextOptions {
  /** Apply migrations first (every command but the ones that do not touch the database). */
  migrate?: boolean;
  poolSize?: number;
  /** An embedded database other than the default one (the demo keeps its own). */
  embeddedDatabase?: string;
}

/** Config, logger, database (embedded or DATABASE_URL), schema; torn down in reverse order whatever happens. */
export async function withContext<T>(opts: ContextOptions, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  setLogger(log);
  const db = await resolveDatabase({
    databaseUrl: config.DATABASE_URL,
    home: config.IDGAP_HOME ?? path.resolve('.idgap'),
    database: opts.embeddedDatabase,
    log,
  });
  const pool = createPool(db.connectionString, opts.poolSize ?? 4);
  try {
    if (opts.migrate !== false) {
      await migrateDatabase(db.connectionString, log).catch((e: Error & { code?: string }) => {
        if (/^(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|28P01|28000|3D000)$/.test(e.code ?? '')) throw e; // explained by the CLI as a connection problem
        throw new UserError(`could not prepare the database schema: ${e.message}`);
      });
    }
    return await fn({ config, log, db, pool });
  } finally {
    await pool.end().catch(() => undefined);
    await db.stop().catch(() => undefined);
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function isUserFacing(e: unknown): e is Error {
  return e instanceof UserError || e instanceof ConfigError;
}
