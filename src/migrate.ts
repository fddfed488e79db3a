import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { runMigrations as runWorkerMigrations } from 'graphile-worker';
import { migrate as graphileMigrate, Logger as MigrateLogger } from 'graphile-migrate';
import { MIGRATIONS_DIR, SQL_DIR } from './paths.js';
import { graphileLogger, type Log } from './log.js';
// graphile-migrate keeps its pool open for 200 ms after use; end it now, before the caller stops the server.
import * as migratePools from 'graphile-migrate/dist/pgReal.js';

export interface SqlObjectFile {
  file: string;
  schema: string;
  kind: 'functions' | 'views';
  name: string;
  sql: string;
  sha256: string;
}

/** The files of sql/ in the order of sql/manifest.txt. */
export function readSqlObjects(sqlDir = SQL_DIR): SqlObjectFile[] {
  const manifest = readFileSync(path.join(sqlDir, 'manifest.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  return manifest.map((file) => {
    const match = /^(canon|ops)\/(functions|views)\/([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) throw new Error(`sql/manifest.txt: "${file}" is not of the form <schema>/<functions|views>/<name>.sql`);
    const full = path.join(sqlDir, file);
    if (!existsSync(full)) throw new Error(`sql/manifest.txt names ${file}, which does not exist`);
    const sql = readFileSync(full, 'utf8');
    return {
      file,
      schema: match[1]!,
      kind: match[2] as 'functions' | 'views',
      name: match[3]!,
      sql,
      sha256: createHash('sha256').update(sql).digest('hex'),
    };
  });
}

export interface MigrateResult {
  sqlObjectsApplied: number;
  sqlObjectsUnchanged: boolean;
  durationMs: number;
}

/**
 * `idgap migrate`: Graphile Worker's schema first, then the committed
 * graphile-migrate migrations (tables), then the sql/ objects. Idempotent: the
 * second run finds every migration applied and every sql/ file's hash
 * unchanged, and writes nothing.
 */
export async function migrateDatabase(connectionString: string, log?: Log): Promise<MigrateResult> {
  const started = Date.now();
  const migrationsBefore = await appliedMigrations(connectionString);
  await runWorkerMigrations({ connectionString, logger: log ? graphileLogger(log) : undefined });
  /* graphile-migrate begins with `create schema if not exists`, which needs CREATE on the database even when
     there is nothing to do: skip it when every committed file is applied, so least-privilege logins can start. */
  if (!(await committedMigrationsApplied(connectionString))) {
    await graphileMigrate(
      { connectionString, migrationsFolder: MIGRATIONS_DIR, logger: quietMigrateLogger(log) },
      false,
      false,
    );
    (migratePools as { clearAllPools: () => void }).clearAllPools();
  }
  const migrationsChanged = (await appliedMigrations(connectionString)) !== migrationsBefore;
  const applied = await applySqlObjects(connectionString, log, migrationsChanged);
  const result = { sqlObjectsApplied: applied, sqlObjectsUnchanged: applied === 0, durationMs: Date.now() - started };
  log?.info({ event: 'migrate.finished', sql_objects_applied: applied, duration_ms: result.durationMs }, 'database schema is up to date');
  return result;
}

/**
 * Applies sql/ in manifest order, in one transaction, when any file's hash
 * differs from what was applied last. Views are dropped and re-created (they
 * are derived, and CREATE OR REPLACE cannot change their columns); a changed
 * function file first drops every overload of that name, so a changed
 * signature never leaves the old one behind.
 */
/** True when graphile-migrate has applied exactly the files of migrations/committed (it records them as `000001.sql`). */
async function committedMigrationsApplied(connectionString: string): Promise<boolean> {
  const committedDir = path.join(MIGRATIONS_DIR, 'committed');
  const files = existsSync(committedDir) ? readdirSync(committedDir).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/^(\d+)-.*\.sql$/, '$1.sql')).sort() : [];
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client
      .query<{ filename: string }>(`select filename from graphile_migrate.migrations order by filename`)
      .catch(() => ({ rows: [] as { filename: string }[] }));
    return rows.length === files.length && rows.every((r, i) => r.filename === files[i]);
  } finally {
    await client.end();
  }
}

/** How many migrations (graphile-migrate's and Graphile Worker's) the database has: a change re-runs the grants. */
async function appliedMigrations(connectionString: string): Promise<number> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      `select (case when to_regclass('graphile_migrate.migrations') is null then 0 else (select count(*)::int from graphile_migrate.migrations) end)
            + (case when to_regclass('graphile_worker.migrations') is null then 0 else (select count(*)::int from graphile_worker.migrations) end) as n`,
    ).catch(() => ({ rows: [{ n: 0 }] }));
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

/**
 * Also grants the roles' privileges (ops.apply_grants, the last object of the
 * manifest) whenever objects were re-created or a migration was applied
 * (`grantsDue`): dropping a view or function loses its grants.
 */
export async function applySqlObjects(connectionString: string, log?: Log, grantsDue = false): Promise<number> {
  const objects = readSqlObjects();
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('begin');
    await client.query(`select pg_advisory_xact_lock(hashtextextended('idgap.migrate', 0))`);
    const { rows } = await client.query<{ file: string; sha256: string }>('select file, sha256 from ops.sql_objects');
    const known = new Map(rows.map((r) => [r.file, r.sha256]));
    const changed = objects.filter((o) => known.get(o.file) !== o.sha256);
    const removed = [...known.keys()].filter((f) => !objects.some((o) => o.file === f));
    if (changed.length === 0 && removed.length === 0) {
      if (grantsDue) await client.query('select ops.apply_grants()');
      await client.query('commit');
      return 0;
    }
    for (const o of [...objects].reverse()) {
      if (o.kind === 'views') await client.query(`drop view if exists ${o.schema}.${o.name} cascade`);
    }
    const toDrop = [
      ...changed.filter((o) => o.kind === 'functions').map((o) => ({ schema: o.schema, name: o.name })),
      ...removed.map((f) => /^(\w+)\/(functions|views)\/(\w+)\.sql$/.exec(f)).filter((m) => m !== null).map((m) => ({ schema: m[1]!, name: m[3]!, kind: m[2] })),
    ];
    for (const { schema, name } of toDrop) {
      const overloads = await client.query<{ signature: string }>(
        `select p.oid::regprocedure::text as signature
           from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          where n.nspname = $1 and p.proname = $2`,
        [schema, name],
      );
      for (const o of overloads.rows) await client.query(`drop function if exists ${o.signature} cascade`);
      await client.query(`drop view if exists ${schema}.${name} cascade`);
    }
    for (const o of objects) {
      try {
        await client.query(o.sql);
      } catch (e) {
        throw new Error(`sql/${o.file}: ${(e as Error).message}`);
      }
    }
    await client.query('select ops.apply_grants()');
    await client.query('delete from ops.sql_objects');
    await client.query(
      `insert into ops.sql_objects (file, sha256) select * from unnest($1::text[], $2::text[])`,
      [objects.map((o) => o.file), objects.map((o) => o.sha256)],
    );
    await client.query('commit');
    log?.debug({ event: 'migrate.sql_objects', applied: objects.length, changed: changed.length }, 'sql/ objects applied');
    return objects.length;
  } catch (e) {
    await client.query('rollback').catch(() => undefined);
    throw e;
  } finally {
    await client.end();
  }
}

function quietMigrateLogger(log?: Log): MigrateLogger {
  // graphile-migrate's own lines go to pino: errors and warnings as such, the rest at debug.
  return new MigrateLogger(() => (level, message) => {
    if (!log) return;
    if (level === 'error') log.error({ event: 'migrate.log' }, message);
    else if (level === 'warning') log.warn({ event: 'migrate.log' }, message);
    else log.debug({ event: 'migrate.log' }, message);
  });
}
