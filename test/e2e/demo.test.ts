import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCliBuilt } from '../support/build.js';

const run = promisify(execFile);

describe('idgap demo', () => {
  let bin: string;
  const home = mkdtempSync(path.join(os.tmpdir(), 'idgap-demo-test-'));
  const env = () => {
    const e: NodeJS.ProcessEnv = { ...process.env, IDGAP_HOME: home, LOG_LEVEL: 'warn', IDGAP_LOG_JSON: '1' };
    delete e.DATABASE_URL;
    return e;
  };
  beforeAll(async () => {
    bin = await ensureCliBuilt();
  }, 180_000);
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('runs the whole system on a fresh embedded database, exits 0 and recovers leads without a wrong link', async () => {
    const { stdout } = await run(process.execPath, [bin, 'demo', '--leads', '3000', '--json'], { env: env(), timeout: 170_000, maxBuffer: 64 << 20 });
    const result = JSON.parse(stdout);
    expect(result.database).toBe('idgap_demo');
    expect(result.imports.leads.loaded).toBe(3000);
    expect(result.recovery.matched).toBeGreaterThan(0);
    expect(result.gap_after.unresolved).toBeLessThan(result.gap_before.unresolved);
    expect(result.quality.wrong_links).toBe(0);
    expect(result.quality.links_on_ambiguous).toBe(0);
    expect(Object.values(result.invariants)).toEqual([0, 0, 0, 0]);
  }, 180_000);

  it('prints a readable summary and recreates its database on every run', async () => {
    const { stdout } = await run(process.execPath, [bin, 'demo', '--leads', '500'], { env: env(), timeout: 170_000 });
    expect(stdout).toMatch(/^Identity gap recovery demo \(database idgap_demo\)/);
    expect(stdout).toMatch(/Data {4}leads 500, drivers 500/); // not 3500: the first run's data is gone
    expect(stdout).toMatch(/Quality precision 100\.00%/);
  }, 180_000);

  it('prints the commands that explore its data, and the printed diagnose reads the demo\'s database', async () => {
    const { stdout } = await run(process.execPath, [bin, 'demo', '--leads', '400'], { env: env(), timeout: 170_000 });
    const printed = stdout.match(/^ {2}npx idgap (.*diagnose)\b/m);
    expect(printed, stdout).not.toBeNull();
    expect(printed![1]).toBe('--database idgap_demo diagnose');
    const args = printed![1]!.split(' ');
    const { stdout: diagnosed } = await run(process.execPath, [bin, ...args, '--json'], { env: env(), timeout: 120_000 });
    const diagnosis = JSON.parse(diagnosed) as { gap: { total_leads: number }; health: Array<{ check: string; status: string }> };
    expect(diagnosis.gap.total_leads).toBe(400);
    expect(diagnosis.health.find((h) => h.check === 'job_freshness')?.status).toBe('ok');
    expect(diagnosis.health.find((h) => h.check === 'gap_trend')?.status).toBe('ok');
  }, 300_000);

  it('refuses to run against DATABASE_URL', async () => {
    const failure = (await run(process.execPath, [bin, 'demo'], { env: { ...env(), DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } }).catch((e: unknown) => e)) as {
      code: number;
      stderr: string;
    };
    expect(failure.code).toBe(1);
    expect(failure.stderr.trim()).toBe('idgap: idgap demo runs only on the embedded PostgreSQL (it drops and recreates its own database); unset DATABASE_URL to run it');
  });
});
