import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type Database } from '../../src/db.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { ensureCliBuilt } from '../support/build.js';
import { useTestDatabase } from '../support/db.js';

/* `idgap psql` and `idgap url` (issue 18 item 4), through the built CLI and Debian's psql. */
const run = promisify(execFile);
const db = await useTestDatabase();
let cli: string;

beforeAll(async () => {
  cli = await ensureCliBuilt();
});

function env(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', IDGAP_LOG_JSON: '1', ...extra };
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete e[k];
  return e;
}

async function idgap(args: string[], extra: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { cwd: PROJECT_ROOT, env: env(extra), timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

describe('with DATABASE_URL', () => {
  it('idgap url prints it; the global --database (an embedded database) is refused beside it', async () => {
    expect((await idgap(['url'], { DATABASE_URL: db.url })).stdout.trim()).toBe(db.url);
    const r = await idgap(['url', '--database', 'idgap_demo'], { DATABASE_URL: db.url });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('idgap: --database names a database of the embedded PostgreSQL; with DATABASE_URL set, put the database name in DATABASE_URL instead');
  });

  it('idgap psql runs psql on it, passes the arguments after --, and returns psql’s exit code', async () => {
    const ok = await idgap(['psql', '--', '-Atc', 'select current_database(), count(*) from ops.settings'], { DATABASE_URL: db.url });
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toMatch(new RegExp(`^${db.name}\\|[1-9][0-9]*$`));
    const bad = await idgap(['psql', '--', '-v', 'ON_ERROR_STOP=1', '-Atc', 'select * from no_such_table'], { DATABASE_URL: db.url });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('no_such_table');
  });

  it('says how to install psql when it is missing', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'idgap-nopsql-'));
    try {
      const r = await idgap(['psql'], { DATABASE_URL: db.url, PATH: empty });
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe('idgap: psql is not installed: run `apt-get install postgresql-client` (Debian), then `npx idgap psql` again');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('on the embedded PostgreSQL', () => {
  let home: string;
  let server: Database | undefined;
  beforeAll(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), 'idgap-psql-'));
    server = await startEmbedded({ home, port: 0 }); // as `idgap start` would keep it running
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('idgap url prints the running server’s URL with this installation’s password; idgap psql joins it', async () => {
    const url = await idgap(['url'], { DATABASE_URL: undefined, IDGAP_HOME: home });
    expect(url.stdout.trim()).toBe(server!.connectionString);
    const psql = await idgap(['psql', '--', '-Atc', 'show data_directory'], { DATABASE_URL: undefined, IDGAP_HOME: home });
    expect(psql.code).toBe(0);
    expect(psql.stdout.trim()).toBe(server!.dataDir);
    /* The global --database picks another database of the same server, for url and psql alike. */
    const demoUrl = new URL(server!.connectionString);
    demoUrl.pathname = '/idgap_demo';
    const demo = await idgap(['psql', '--database', 'idgap_demo', '--', '-Atc', 'select current_database()'], { DATABASE_URL: undefined, IDGAP_HOME: home });
    expect(demo.stdout.trim()).toBe('idgap_demo');
    expect((await idgap(['--database', 'idgap_demo', 'url'], { DATABASE_URL: undefined, IDGAP_HOME: home })).stdout.trim()).toBe(demoUrl.toString());
  });

  it('idgap url says how to get a server when none runs', async () => {
    await server!.stop();
    server = undefined;
    const r = await idgap(['url'], { DATABASE_URL: undefined, IDGAP_HOME: home });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `idgap: the embedded PostgreSQL of ${home} is not running: keep it up with \`npx idgap start\` and run \`npx idgap url\` again, or open a session with \`npx idgap psql\``,
    );
  });
});
