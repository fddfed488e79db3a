import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEmbedded, type Database } from '../../src/db.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { ensureCliBuilt } from '../support/build.js';

/*
 * `idgap start` against a PostgreSQL server of its own that the test stops for
 * about 10 s while a job runs, then starts again on the same port: the process
 * stays up, the API answers (an error while the server is gone, 200 after),
 * and the worker takes new jobs once the server is back.
 */
const TOKEN = 'outage-token-abcdefghijklmnop';
const home = mkdtempSync(path.join(os.tmpdir(), 'idgap-outage-'));
let cluster: Database | undefined;
let child: ChildProcess | undefined;
let output = '';

beforeAll(async () => {
  await ensureCliBuilt();
}, 180_000);
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await cluster?.stop().catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (child?.exitCode !== null) throw new Error(`idgap start exited (${child?.exitCode}) while waiting for ${what}:\n${output.slice(-6000)}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; process output:\n${output.slice(-6000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('idgap start while its database goes away', () => {
  it('keeps running when the server stops for 10 s during a job, and runs new jobs once it is back', async () => {
    const dbPort = await freePort(0);
    cluster = await startEmbedded({ home, port: dbPort });
    const url = cluster.connectionString;
    const apiPort = await freePort(0);
    const base = `http://127.0.0.1:${apiPort}`;
    child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'idgap.js'), 'start'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DATABASE_URL: url, API_PORT: String(apiPort), API_HOST: '127.0.0.1', API_TOKEN: TOKEN, LOG_LEVEL: 'info', IDGAP_LOG_JSON: '1', WORKER_CONCURRENCY: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const post = (p: string) => fetch(base + p, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    await waitFor('/healthz', async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined), 90_000);

    /* A refresh that waits on a lock the test holds: the job is running when the server goes. */
    const blocker = new pg.Client({ connectionString: url });
    blocker.on('error', () => undefined);
    await blocker.connect();
    await blocker.query('begin');
    await blocker.query('lock table canon.drivers_index in access exclusive mode');
    const queued = await post('/api/v1/identity/drivers-index/refresh');
    expect(queued.status).toBe(202);
    const { status_url } = (await queued.json()) as { status_url: string };
    await waitFor('the refresh to be running', async () => {
      const body = (await (await fetch(base + status_url)).json()) as { status: string };
      return body.status === 'running' ? true : undefined;
    });

    await cluster.stop();
    const downSince = Date.now();
    /* While the server is gone: the process lives and the API answers with a JSON error. */
    await new Promise((r) => setTimeout(r, 3000));
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(503);
    const gaps = await fetch(`${base}/api/v1/ops/identity-gaps?page_size=7`);
    expect(gaps.status).toBe(503);
    expect(await gaps.json()).toEqual({ error: 'unavailable', message: 'database unreachable; try again shortly' });
    expect((await post('/api/v1/identity/drivers-index/refresh')).status).toBe(503);
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - downSince))));
    expect(child.exitCode, output.slice(-6000)).toBeNull();

    cluster = await startEmbedded({ home, port: dbPort });
    await waitFor('/healthz after the restart', async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined));
    expect((await fetch(`${base}/api/v1/ops/identity-gaps`)).status).toBe(200);

    /* The worker is back: a new job runs to success (the interrupted one is retried too). */
    const second = await waitFor('a new refresh to be queued', async () => {
      const res = await post('/api/v1/ops/identity-gaps/run-recovery?limit=10');
      return res.status === 202 ? ((await res.json()) as { status_url: string }) : undefined;
    });
    const done = await waitFor(
      'the new job to succeed',
      async () => {
        const body = (await (await fetch(base + second.status_url)).json()) as { status: string };
        return body.status === 'succeeded' ? body : undefined;
      },
      90_000,
    );
    expect(done.status).toBe('succeeded');
    expect(child.exitCode, output.slice(-6000)).toBeNull();

    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)));
    expect(code, output.slice(-4000)).toBe(0);
  }, 240_000);
});
