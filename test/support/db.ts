import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { createPool } from '../../src/db.js';

export interface TestDatabase {
  url: string;
  name: string;
  pool: pg.Pool;
}

/** A clone of the migrated template for this test file, dropped when the file ends. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('adminUrl');
  const templateDb = inject('templateDb');
  const name = `idgap_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // Cloning needs the template to have no other connection; retry while another file is cloning it.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`create database ${name} template ${templateDb}`);
        break;
      } catch (e) {
        if ((e as { code?: string }).code !== '55006' || attempt > 50) throw e;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), 8, 'idgap-test');
  return { url: url.toString(), name, pool };
}

export async function dropTestDatabase(db: TestDatabase): Promise<void> {
  await db.pool.end().catch(() => undefined);
  const admin = new pg.Client({ connectionString: inject('adminUrl') });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${db.name} with (force)`);
  } finally {
    await admin.end();
  }
}

/** createTestDatabase + dropTestDatabase after the file. */
export async function useTestDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  afterAll(async () => dropTestDatabase(db));
  return db;
}
