import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/db.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { ensureCliBuilt } from '../support/build.js';
import { useTestDatabase } from '../support/db.js';
import { insertDriver, insertLead, refreshIndex } from '../support/fixtures.js';

/* `idgap start` as an operator runs it: the compiled CLI, worker and API in one process. */
const db = await useTestDatabase();
const TOKEN = 'e2e-token-abcdefghijklmnop';
let child: ChildProcess | undefined;
let output = '';

beforeAll(async () => {
  await ensureCliBuilt();
}, 180_000);
afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; process output:\n${output.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('idgap start', () => {
  it('serves the API, runs a recovery queued through it, and exits 0 on SIGTERM', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321' });
    await insertLead(db.pool, { park_phone: '987654321' });
    await refreshIndex(db.pool);
    const port = await freePort(0);
    const base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'idgap.js'), 'start'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DATABASE_URL: db.url, API_PORT: String(port), API_HOST: '127.0.0.1', API_TOKEN: TOKEN, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

    await waitFor('/healthz', async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined));
    const queued = await fetch(`${base}/api/v1/ops/identity-gaps/run-recovery?batch_size=100`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(queued.status).toBe(202);
    const { job_id, status_url } = (await queued.json()) as { job_id: number; status_url: string };

    const done = await waitFor('the run to succeed', async () => {
      const res = await fetch(base + status_url);
      if (!res.ok) return undefined;
      const body = (await res.json()) as { status: string; run: { state: string; trigger: string; matched: number; worker_job_id: number } | null };
      return body.status === 'succeeded' ? body : undefined;
    });
    expect(done.run).toMatchObject({ state: 'succeeded', trigger: 'api', matched: 1, worker_job_id: job_id });

    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
    expect(code, output.slice(-2000)).toBe(0);
    expect(output).toContain('"event":"shutdown.finished"');
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  }, 90_000);
});
