import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { migrateDatabase, readSqlObjects } from '../../src/migrate.js';
import { useTestDatabase } from '../support/db.js';
import { createPool } from '../../src/db.js';

const db = await useTestDatabase();

/** Everything the schema consists of, to compare before and after. */
async function schemaFingerprint(pool: pg.Pool) {
  const { rows } = await pool.query(`
    select
      (select json_agg(c.relname || ':' || c.relkind::text order by c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('canon', 'ops', 'public', 'graphile_worker')) as relations,
      (select json_agg(p.oid::regprocedure::text || ':' || md5(p.prosrc) order by p.oid::regprocedure::text) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('canon', 'ops')) as functions,
      (select json_agg(c.oid order by c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname in ('canon', 'ops')) as oids,
      (select count(*) from graphile_migrate.migrations) as migrations,
      (select json_agg(applied_at order by file) from ops.sql_objects) as sql_applied`);
  return rows[0];
}

describe('idgap migrate', () => {
  it('builds everything on an empty database, and a second run changes nothing', async () => {
    const name = `idgap_empty_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: inject('adminUrl') });
    await admin.connect();
    await admin.query(`create database ${name} template template0 encoding 'UTF8' locale 'C'`);
    const url = new URL(inject('adminUrl'));
    url.pathname = `/${name}`;
    const pool = createPool(url.toString(), 2);
    try {
      const first = await migrateDatabase(url.toString());
      expect(first.sqlObjectsApplied).toBe(readSqlObjects().length);
      const before = await schemaFingerprint(pool);
      expect(before.migrations).toBe(String(readdirSync(new URL('../../migrations/committed/', import.meta.url)).filter((f) => f.endsWith('.sql')).length));
      const second = await migrateDatabase(url.toString());
      expect(second).toMatchObject({ sqlObjectsApplied: 0, sqlObjectsUnchanged: true });
      expect(await schemaFingerprint(pool)).toEqual(before);
    } finally {
      await pool.end();
      await admin.query(`drop database ${name} with (force)`);
      await admin.end();
    }
  });

  it('installs the worker schema before our objects', async () => {
    const { rows } = await db.pool.query(`select to_regclass('graphile_worker.jobs') is not null as worker, to_regprocedure('graphile_worker.add_job(text,json,text,timestamptz,integer,text,integer,text[],text)') is not null as add_job`);
    expect(rows[0]).toEqual({ worker: true, add_job: true });
  });

  it('lists every file of sql/ in the manifest, each named after the object it creates', async () => {
    const { existsSync, readdirSync } = await import('node:fs');
    const path = await import('node:path');
    const { SQL_DIR } = await import('../../src/paths.js');
    const onDisk: string[] = [];
    for (const schema of ['canon', 'ops']) for (const kind of ['functions', 'views']) {
      const dir = path.join(SQL_DIR, schema, kind);
      if (!existsSync(dir)) continue; // git keeps no empty folder (sql/canon/views has no file yet)
      for (const f of readdirSync(dir, { withFileTypes: true })) if (f.isFile() && f.name.endsWith('.sql')) onDisk.push(`${schema}/${kind}/${f.name}`);
    }
    const objects = readSqlObjects();
    expect(objects.map((o) => o.file).sort()).toEqual(onDisk.sort());
    for (const o of objects) {
      const create = o.kind === 'views' ? `create or replace view ${o.schema}.${o.name} ` : `create or replace function ${o.schema}.${o.name}(`;
      expect(o.sql, o.file).toContain(create);
    }
  });
});
