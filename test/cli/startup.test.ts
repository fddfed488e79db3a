import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { ensureCliBuilt } from '../support/build.js';

const run = promisify(execFile);

/*
 * What `idgap` says before any database starts: its version, and the arguments and files it is given. Each case runs
 * in an empty working folder without DATABASE_URL, so a command that started the embedded PostgreSQL would leave
 * `.idgap/` there.
 */
describe('idgap before the database starts', () => {
  let bin: string;
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'idgap-startup-'));
  const env = () => {
    const e: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
    delete e.DATABASE_URL;
    delete e.IDGAP_HOME;
    return e;
  };
  const idgap = (...args: string[]) =>
    run(process.execPath, [bin, ...args], { cwd, env: env(), timeout: 30_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  beforeAll(async () => {
    bin = await ensureCliBuilt();
  }, 180_000);
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await idgap('--version');
    expect(result).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('reports a missing CSV at once, in one line, without starting a database', async () => {
    const result = await idgap('import', 'leads', 'missing.csv');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('idgap: cannot read missing.csv: no such file (nothing was changed)\n');
    expect(existsSync(path.join(cwd, '.idgap'))).toBe(false);
  });

  it.each([
    [['recover', '--batch-size', 'abc'], 'idgap: --batch-size must be a whole number (got "abc")\n'],
    [['recover', '--batch-size', '0'], 'idgap: --batch-size must be at least 1 (got "0")\n'],
    [['recover', '--date-from', '2026-02-01', '--date-to', '2026-01-01'], 'idgap: --date-from must not be after --date-to (got "2026-02-01")\n'],
    [['recover', '--gap-reason', 'lost'], 'idgap: --gap-reason must be no_identity, no_origin or inconsistent_origin (got "lost")\n'],
    [['recover', '--bogus'], "idgap: unknown option '--bogus' (see --help)\n"],
    [['--database', 'idgap', 'demo'], 'idgap: the demo always uses its own database idgap_demo (it drops and recreates it): leave out --database idgap\n'],
    [['--database', 'Bad-Name', 'diagnose'], 'idgap: --database must be a database name of lower-case letters, digits and _ (got "Bad-Name")\n'],
  ])('`idgap %j` names the flag the user typed, in one line, without starting a database', async (args, message) => {
    const result = await idgap(...args);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(message);
    expect(existsSync(path.join(cwd, '.idgap'))).toBe(false);
  });

  it('refuses --database with DATABASE_URL, before connecting', async () => {
    const result = await run(process.execPath, [bin, 'diagnose', '--database', 'idgap_demo'], {
      cwd,
      env: { ...env(), DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
    }).catch((e: { code: number; stderr: string }) => e);
    expect(result).toMatchObject({ code: 1 });
    expect(result.stderr).toMatch(/^idgap: --database names a database of the embedded PostgreSQL; with DATABASE_URL set/);
  });
});
