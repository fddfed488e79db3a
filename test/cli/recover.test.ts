import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.js';
import { insertLead } from '../support/fixtures.js';
import { ensureCliBuilt } from '../support/build.js';

const run = promisify(execFile);
const db = await useTestDatabase();

describe('idgap recover', () => {
  let bin: string;
  const recover = async (...args: string[]) =>
    (await run(process.execPath, [bin, 'recover', ...args], { env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn', IDGAP_LOG_JSON: '1' }, timeout: 60_000 })).stdout;
  beforeAll(async () => {
    bin = await ensureCliBuilt();
  }, 180_000);

  it('with nothing due, says how many leads wait for their backoff and when the next one is due', async () => {
    await insertLead(db.pool, { park_phone: '900000001', lead_created_at: '2026-11-20 08:00:00' });
    await insertLead(db.pool, { park_phone: '900000002', lead_created_at: '2026-11-21 08:00:00' });
    // No drivers: both leads end NO_CANDIDATES, pending with a backoff.
    const first = await recover();
    expect(first).toMatch(/processed=2 .*pending=2/);
    expect(first).not.toMatch(/nothing was due/);
    const { rows } = await db.pool.query<{ next_due: Date }>(
      `select min(jobs.next_attempt_at) as next_due from ops.identity_matching_jobs as jobs where jobs.status = 'pending'`,
    );
    const due = `${rows[0]!.next_due.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    const second = await recover();
    expect(second).toMatch(/processed=0 /);
    expect(second).toContain(`nothing was due: 2 leads wait for their backoff; the next is due at ${due}`);
    const json = JSON.parse(await recover('--json')) as { nothing_due: { waiting: number; next_due_at: string; failed: number } };
    expect(json.nothing_due).toEqual({ waiting: 2, next_due_at: rows[0]!.next_due.toISOString(), failed: 0 });
    // A filter counts only its own selection.
    expect(await recover('--risk-level', 'low')).toContain('nothing was due: no lead waits for its backoff');
  });
});
