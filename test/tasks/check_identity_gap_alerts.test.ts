import { runOnce } from 'graphile-worker';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { graphileLogger } from '../../src/log.js';
import { taskList } from '../../src/worker.js';
import { useTestDatabase, type TestDatabase } from '../support/db.js';
import { lastRun, resetData } from '../support/fixtures.js';
import { insertDaily, insertRun, leadAged } from '../support/gap.js';
import { capturingLog } from '../support/log.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

/** Queues the task as psql would and lets Graphile Worker run it, keeping every log line. */
async function runAlerts(payload: unknown = {}) {
  const { log, lines } = capturingLog();
  await db.pool.query('select graphile_worker.add_job($1, $2::json)', ['check_identity_gap_alerts', JSON.stringify(payload)]);
  await runOnce({ connectionString: db.url, taskList, logger: graphileLogger(log) });
  const checks = lines.filter((l) => l.event === 'alert.check');
  return { lines, checks, summary: lines.find((l) => l.event === 'alert.summary') };
}

const PINO_ERROR = 50;
const PINO_WARN = 40;

describe('check_identity_gap_alerts', () => {
  it('logs a failing check at error and a warning check at warn, and records the run', async () => {
    await leadAged(db.pool, 8);
    await insertRun(db.pool, { hoursAgo: 30, matched: 1 }); // job_freshness fails (stale); no history: gap_trend warns
    const { checks, summary } = await runAlerts();

    const freshness = checks.find((l) => l.check === 'job_freshness');
    expect(freshness).toMatchObject({ level: PINO_ERROR, status: 'fail', threshold: '24' });
    expect(String(freshness!.msg)).toMatch(/job_freshness FAILS/);
    expect(String(freshness!.hint)).toMatch(/STALE/);
    expect(checks.find((l) => l.check === 'gap_trend')).toMatchObject({ level: PINO_WARN, status: 'warn' });
    expect(checks.every((l) => l.status !== 'ok')).toBe(true);
    expect(checks.every((l) => (l.status === 'fail' ? l.level === PINO_ERROR : l.level === PINO_WARN))).toBe(true);
    const fails = checks.filter((l) => l.status === 'fail').length;
    const warns = checks.filter((l) => l.status === 'warn').length;
    expect(summary).toMatchObject({ checks: 7, fail: fails, warn: warns });

    const run = await lastRun(db.pool, 'check_identity_gap_alerts');
    expect(run).toMatchObject({ state: 'succeeded', trigger: 'sql' });
    expect(run.stats).toEqual({ checks: 7, fail: fails, warn: warns });
  });

  it('logs no check line on a healthy system', async () => {
    await insertRun(db.pool, { hoursAgo: 1, matched: 0 });
    await insertDaily(db.pool, 1, { pct: 0 });
    await insertDaily(db.pool, 0, { pct: 0 });
    const { checks, summary } = await runAlerts();
    expect(checks).toEqual([]);
    expect(summary).toMatchObject({ checks: 7, fail: 0, warn: 0 });
    expect((await lastRun(db.pool, 'check_identity_gap_alerts')).state).toBe('succeeded');
  });

  it('rejects an unexpected payload once, with the validation message, without retrying it', async () => {
    await runAlerts({ threshold: 3 });
    const run = await lastRun(db.pool, 'check_identity_gap_alerts');
    expect(run.state).toBe('rejected');
    expect(run.error).toMatch(/invalid payload for check_identity_gap_alerts/);
    const { rows } = await db.pool.query('select count(*)::int as n from graphile_worker.jobs');
    expect(rows[0]).toEqual({ n: 0 });
  });
});
