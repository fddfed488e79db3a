import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type Database } from '../../src/db.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { ensureCliBuilt } from '../support/build.js';

/*
 * The embedded PostgreSQL wherever a user can write (issue 18 items 2 and 18): a clone in a private (0700) folder, as
 * root's home or `mktemp -d` is, and one installation's server never taken for another's.
 */
const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const cleanup: string[] = [];

afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

/** Removes a home and, when it recorded one outside it (/var/lib/idgap/…), its data directory. */
function removeHome(home: string): void {
  const record = path.join(home, 'datadir');
  if (existsSync(record)) rmSync(path.dirname(readFileSync(record, 'utf8').trim()), { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
}

function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', IDGAP_LOG_JSON: '1' };
  delete env.DATABASE_URL;
  delete env.IDGAP_HOME;
  return env;
}

describe('a clone in a private folder', () => {
  let root: string;
  let clone: string;

  beforeAll(async () => {
    await ensureCliBuilt();
    // A copy of the project (hard links: instant) inside a 0700 folder, the way `git clone` into ~ or `mktemp -d` is.
    root = mkdtempSync(path.join(os.tmpdir(), 'idgap-private-'));
    cleanup.push(root);
    expect(statSync(root).mode & 0o777).toBe(0o700);
    clone = path.join(root, 'project');
    mkdirSync(clone);
    for (const entry of ['package.json', 'bin', 'dist', 'node_modules', 'sql', 'migrations', 'crontab']) {
      execFileSync('cp', ['-al', path.join(PROJECT_ROOT, entry), path.join(clone, entry)]);
    }
  }, 120_000);

  afterAll(() => removeHome(path.join(clone, '.idgap')));

  it('starts the embedded PostgreSQL there, migrates it, and keeps the user folder private', async () => {
    // TMPDIR private too (as under a user's own temp folder): nothing the server needs may be put there.
    const { stdout } = await run('node', ['bin/idgap.js', 'migrate', '--json'], { cwd: clone, env: { ...cliEnv(), TMPDIR: root }, timeout: 150_000 });
    expect(JSON.parse(stdout)).toHaveProperty('sqlObjectsApplied');
    expect(statSync(root).mode & 0o777).toBe(0o700); // nothing opened up above the clone
    const home = path.join(clone, '.idgap');
    expect(statSync(path.join(home, 'password')).mode & 0o777).toBe(0o600);
    if (isRoot) {
      // The postgres user cannot reach the clone: the data lives outside it, recorded in .idgap/datadir.
      const dataDir = readFileSync(path.join(home, 'datadir'), 'utf8').trim();
      expect(dataDir.startsWith('/var/lib/idgap/')).toBe(true);
      expect(existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);
    }
    // A second command finds the same cluster and its data.
    const again = await run('node', ['bin/idgap.js', 'migrate', '--json'], { cwd: clone, env: cliEnv(), timeout: 150_000 });
    expect(JSON.parse(again.stdout).sqlObjectsApplied).toBe(0);
  }, 300_000);
});

describe('one installation never uses another one’s embedded server', () => {
  let first: Database;
  let firstHome: string;
  let port: number;

  beforeAll(async () => {
    firstHome = mkdtempSync(path.join(os.tmpdir(), 'idgap-first-'));
    cleanup.push(firstHome);
    first = await startEmbedded({ home: firstHome, database: 'postgres', port: 0 });
    port = Number(new URL(first.connectionString).port);
  }, 120_000);
  afterAll(async () => {
    await first?.stop();
    removeHome(firstHome);
  });

  it('keeps a random password of its own in a 0600 file, never the old fixed one', () => {
    const password = readFileSync(path.join(firstHome, 'password'), 'utf8').trim();
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(statSync(path.join(firstHome, 'password')).mode & 0o777).toBe(0o600);
    expect(decodeURIComponent(new URL(first.connectionString).password)).toBe(password);
  });

  /** A second installation whose lock file says its server listens on the first one's port (a stale record, a reused pid). */
  function secondInstallation(): string {
    const home = mkdtempSync(path.join(os.tmpdir(), 'idgap-second-'));
    cleanup.push(home);
    mkdirSync(path.join(home, 'pgdata'), { recursive: true });
    writeFileSync(path.join(home, 'pgdata', 'postmaster.pid'), `${process.pid}\n${path.join(home, 'pgdata')}\n${Math.floor(Date.now() / 1000)}\n${port}\n`);
    return home;
  }

  it('refuses to join the first installation’s server on that port: the password is refused', async () => {
    const home = secondInstallation();
    await expect(startEmbedded({ home, database: 'postgres' })).rejects.toThrow(
      new RegExp(`the PostgreSQL on 127\\.0\\.0\\.1:${port} refused this installation's password .* not the embedded server of ${home}`),
    );
  });

  it('refuses it even with the same password: the server’s data directory is not this installation’s', async () => {
    const home = secondInstallation();
    copyFileSync(path.join(firstHome, 'password'), path.join(home, 'password'));
    await expect(startEmbedded({ home, database: 'postgres' })).rejects.toThrow(
      new RegExp(`the PostgreSQL on 127\\.0\\.0\\.1:${port} serves the data directory ${first.dataDir}, not this installation's ${path.join(home, 'pgdata')}`),
    );
  });
});
