import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbedded, type Database } from '../../src/db.js';
import { migrateDatabase } from '../../src/migrate.js';

/**
 * One PostgreSQL for the whole run: the embedded one (a fresh cluster in a temp
 * folder), or TEST_DATABASE_URL's server. A template database is migrated once;
 * every test file clones it (see test/support/db.ts).
 */
declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDb: string;
  }
}

let db: Database | undefined;
let home: string | undefined;
let adminUrl = '';
let templateDb = '';

async function dockerDatabase(): Promise<Database> {
  const moduleName = '@testcontainers/postgresql';
  const { PostgreSqlContainer } = (await import(moduleName)) as {
    PostgreSqlContainer: new (image: string) => { start(): Promise<{ getConnectionUri(): string; stop(): Promise<unknown> }> };
  };
  const container = await new PostgreSqlContainer('postgres:15').start();
  return { connectionString: container.getConnectionUri(), embedded: false, stop: async () => void (await container.stop()) };
}

export async function setup(project: TestProject): Promise<void> {
  if (process.env.TEST_DATABASE_URL) {
    db = { connectionString: process.env.TEST_DATABASE_URL, embedded: false, stop: async () => undefined };
  } else if (process.env.TEST_PG === 'docker') {
    db = await dockerDatabase();
  } else {
    // A 0700 folder: src/db.ts makes the cluster's own home reachable to the postgres user, or keeps the data outside it.
    home = mkdtempSync(path.join(os.tmpdir(), 'idgap-test-'));
    db = await startEmbedded({ home, database: 'postgres', port: 0 });
  }
  const url = new URL(db.connectionString);
  url.pathname = '/postgres';
  adminUrl = url.toString();
  templateDb = `idgap_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${templateDb}`);
    await admin.query(`create database ${templateDb} template template0 encoding 'UTF8' locale 'C'`);
  } finally {
    await admin.end();
  }
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${templateDb}`;
  await migrateDatabase(templateUrl.toString());
  project.provide('adminUrl', adminUrl);
  project.provide('templateDb', templateDb);
}

export async function teardown(): Promise<void> {
  if (adminUrl && templateDb) {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect().catch(() => undefined);
    await admin.query(`drop database if exists ${templateDb} with (force)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
  await db?.stop();
  // The cluster's data sits outside its home when the postgres user could not reach the temp folder (src/db.ts).
  if (db?.dataDir && home && !db.dataDir.startsWith(`${home}${path.sep}`)) rmSync(path.dirname(db.dataDir), { recursive: true, force: true });
  if (home) rmSync(home, { recursive: true, force: true });
}
