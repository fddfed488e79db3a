import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { ensureCliBuilt } from '../support/build.js';

const run = promisify(execFile);

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ LOG_LEVEL: 'info', API_HOST: '127.0.0.1', API_PORT: 8000, WORKER_CONCURRENCY: 2 });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.API_TOKEN).toBeUndefined();
  });

  it.each([
    [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL is not a postgres:\/\/ URL/],
    [{ API_PORT: '70000' }, /^API_PORT must be between 0 and 65535 \(got "70000"\)/],
    [{ API_PORT: 'eighty' }, /^API_PORT /],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of fatal, error/],
    [{ WORKER_CONCURRENCY: '0' }, /^WORKER_CONCURRENCY must be between 1 and 32/],
    [{ API_TOKEN: 'short' }, /^API_TOKEN must be at least 16 characters long \(got "\*\*\*"\)/],
    [{ DATABASE_URL: 'http://db.example/idgap' }, /^DATABASE_URL is not a postgres:\/\/ URL/],
    [{ DATABASE_URL: 'idgap' }, /^DATABASE_URL is not a postgres:\/\/ URL/],
    [{ API_PORT: '-1' }, /^API_PORT must be between 0 and 65535 \(got "-1"\)/],
    [{ API_PORT: '80.5' }, /^API_PORT must be a whole number/],
    [{ API_HOST: '   ' }, /^API_HOST must not be empty/],
    [{ LOG_LEVEL: '' }, /^LOG_LEVEL must be one of/],
    [{ LOG_LEVEL: 'INFO' }, /^LOG_LEVEL must be one of/],
    [{ WORKER_CONCURRENCY: '33' }, /^WORKER_CONCURRENCY must be between 1 and 32 \(got "33"\)/],
    [{ WORKER_CONCURRENCY: 'two' }, /^WORKER_CONCURRENCY must be a whole number/],
    [{ WORKER_CONCURRENCY: '1.5' }, /^WORKER_CONCURRENCY must be a whole number/],
  ])('rejects %j with one line naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('the idgap command line', () => {
  beforeAll(async () => ensureCliBuilt(), 120_000);

  it('prints one line and exits 1 on bad configuration, without a stack trace', async () => {
    const result = await run('node', ['bin/idgap.js', 'migrate'], { env: { ...process.env, API_PORT: 'eighty' } }).catch((e) => e);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('idgap: API_PORT must be a port number (got "eighty")');
  });

  it('has --help on every command', async () => {
    const { stdout } = await run('node', ['bin/idgap.js', '--help']);
    const commands = [...stdout.slice(stdout.indexOf('\nCommands:')).matchAll(/^  ([a-z][a-z-]*)(?: |$)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['migrate', 'start', 'recover', 'refresh-drivers-index', 'snapshot']));
    for (const c of commands) {
      const help = await run('node', ['bin/idgap.js', c, '--help']);
      expect(help.stdout, c).toContain(`Usage: idgap ${c}`);
    }
  });

  it.each([
    ['start', { WORKER_CONCURRENCY: '0' }, /^idgap: WORKER_CONCURRENCY must be between 1 and 32 \(got "0"\)\n$/],
    ['start', { DATABASE_URL: 'mysql://db/idgap' }, /^idgap: DATABASE_URL is not a postgres:\/\/ URL/],
    ['migrate', { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }, /^idgap: cannot reach the database server of DATABASE_URL \(connect ECONNREFUSED 127\.0\.0\.1:1\): is it running, and are the host and port right\?\n$/],
    ['recover', { DATABASE_URL: 'postgres://nobody:s3cret-pw@127.0.0.1:1/none' }, /^idgap: cannot reach the database server of DATABASE_URL/],
  ])('`idgap %s` with %j exits 1 with one line saying what to fix, and no password', async (command, env, message) => {
    const result = await run('node', ['bin/idgap.js', command], { env: { ...process.env, ...env } }).catch((e) => e);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toContain('s3cret');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('rejects bad recover arguments with one clear line', async () => {
    const result = await run('node', ['bin/idgap.js', 'recover', '0', '--risk-level', 'extreme'], { env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } }).catch((e) => e);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('idgap: LIMIT must be at least 1 (got "0"); --risk-level must be high, medium or low (got "extreme")\n');
  });
});
