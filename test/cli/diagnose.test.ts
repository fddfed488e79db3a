import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { diagnosisSchema, readDiagnosis, renderDiagnosis } from '../../src/diagnose.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { insertDriver, insertLead, refreshIndex, resetData, runJob } from '../support/fixtures.js';
import { invariantViolations } from '../support/invariants.js';
import { ensureCliBuilt } from '../support/build.js';
import { useTestDatabase, type TestDatabase } from '../support/db.js';
import { insertDaily, insertMatchingJob, insertRun, leadAged, person, resolvedLead } from '../support/gap.js';

const run = promisify(execFile);

let db: TestDatabase;
beforeAll(async () => {
  // The binary runs the compiled CLI: build it from the current sources first.
  await ensureCliBuilt();
  db = await useTestDatabase();
}, 180_000);
beforeEach(async () => resetData(db.pool));

/** Runs `node bin/idgap.js …` against the test database; never throws, returns the exit code. */
async function idgap(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn', IDGAP_LOG_JSON: '1' };
  try {
    const { stdout, stderr } = await run('node', ['bin/idgap.js', ...args], { cwd: PROJECT_ROOT, env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A system in good health: recovery succeeded an hour ago, the gap went down since yesterday, integrity clean. */
async function healthySystem(): Promise<void> {
  const { leadId, personKey } = await resolvedLead(db.pool, 3);
  await insertMatchingJob(db.pool, { leadId, status: 'matched', personKey });
  await leadAged(db.pool, 1);
  await insertRun(db.pool, { hoursAgo: 1, processed: 2, matched: 1, pending: 1 });
  await insertDaily(db.pool, 1, { pct: 60 });
  await insertDaily(db.pool, 0, { pct: 50 });
}

/** Recovery's last success is 30 hours old. */
async function staleSystem(): Promise<void> {
  await leadAged(db.pool, 8);
  await insertRun(db.pool, { hoursAgo: 30, matched: 3 });
}

describe('idgap diagnose --check (the real binary)', () => {
  it('exits 1 on a stale system and names the failing check on stderr', async () => {
    await staleSystem();
    const r = await idgap('diagnose', '--check');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/idgap: 1 check failing: job_freshness/);
    expect(r.stdout).toMatch(/FRESHNESS: retry_identity_matching is STALE/);
    expect(r.stdout).toMatch(/VERDICT: FAIL: job_freshness/);
  });

  it('exits 0 on a healthy system', async () => {
    await healthySystem();
    const r = await idgap('diagnose', '--check');
    expect(r.stderr).not.toMatch(/idgap:/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/retry_identity_matching is OK/);
    expect(r.stdout).toMatch(/VERDICT: OK/);
  });

  it('exits 0 on a system that only warns (the gap grew since yesterday)', async () => {
    await healthySystem();
    await db.pool.query(`update ops.identity_gap_daily set pct_unresolved = 70 where snapshot_date = (now() at time zone 'utc')::date`);
    const r = await idgap('diagnose', '--check');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/VERDICT: OK \(1 warning: gap_trend\)/);
  });

  it('exits 1 when recovery never ran', async () => {
    const r = await idgap('diagnose', '--check');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/is NEVER/);
  });

  it('exits 0 without --check even when a check fails', async () => {
    await staleSystem();
    expect((await idgap('diagnose')).code).toBe(0);
  });
});

describe('idgap diagnose --json', () => {
  it('prints one JSON document that validates against diagnosisSchema', async () => {
    await healthySystem();
    const r = await idgap('diagnose', '--json');
    expect(r.code).toBe(0);
    const parsed = diagnosisSchema.safeParse(JSON.parse(r.stdout));
    expect(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues)).toBe(true);
    const d = parsed.data!;
    expect(d.gap).toMatchObject({ total_leads: 2, unresolved: 1, resolved: 1, pct_unresolved: 50 });
    expect(d.freshness.status).toBe('OK');
    expect(d.breakdown).toHaveLength(9);
    expect(d.health.map((h) => h.check).sort()).toEqual(['drivers_index_freshness', 'gap_trend', 'job_freshness', 'link_without_origin', 'match_flow', 'matched_without_link', 'work_lists_drain']);
    expect(d.arrival_latency.map((l) => l.period)).toEqual(['1h', '1d']);
    expect(d.trend.find((t) => t.period === '1d')).toMatchObject({ direction: 'down', pct_unresolved_change: -10 });
    expect(d.ok).toBe(true);
  });

  it('still prints the JSON document on stdout when --check fails', async () => {
    await staleSystem();
    const r = await idgap('diagnose', '--json', '--check');
    expect(r.code).toBe(1);
    const d = diagnosisSchema.parse(JSON.parse(r.stdout));
    expect(d.ok).toBe(false);
    expect(d.freshness.status).toBe('STALE');
    expect(d.problems.find((p) => p.check === 'job_freshness')).toMatchObject({ source: 'health', status: 'fail' });
  });
});

describe('readDiagnosis (the function the API reuses)', () => {
  it('lists an integrity violation health does not cover as a failing problem with its list query', async () => {
    await healthySystem();
    await person(db.pool); // a person without any lead
    const d = await readDiagnosis(db.pool);
    expect(d.ok).toBe(false);
    expect(d.problems).toEqual([
      expect.objectContaining({ source: 'integrity', check: 'person_without_lead', status: 'fail', action: expect.stringMatching(/select persons.person_key/) }),
    ]);
  });

  it('says "no history yet" in TREND on the first day of history, as the gap_trend check does', async () => {
    await insertDaily(db.pool, 0, { pct: 50 });
    const d = await readDiagnosis(db.pool);
    expect(d.health.find((h) => h.check === 'gap_trend')).toMatchObject({ status: 'ok', hint: expect.stringMatching(/^No history yet/) });
    const trendLines = renderDiagnosis(d).split('TREND')[1]!.split('\n\n')[0]!.split('\n').slice(2);
    expect(trendLines).toHaveLength(3);
    expect(trendLines.every((l) => l.trimEnd().endsWith('no history yet'))).toBe(true);
  });

  it('orders the top fail reasons by leads and renders aligned tables with the action for each problem', async () => {
    await staleSystem();
    for (const reason of ['NO_CANDIDATES', 'NO_CANDIDATES', 'MISSING_KEYS']) {
      await insertMatchingJob(db.pool, { leadId: await leadAged(db.pool, 2), status: 'pending', failReason: reason, attempts: 2 });
    }
    const d = await readDiagnosis(db.pool);
    expect(d.fail_reasons.map((r) => [r.fail_reason, r.leads])).toEqual([['NO_CANDIDATES', 2], ['MISSING_KEYS', 1]]);
    const text = renderDiagnosis(d);
    expect(text).toMatch(/^ {2}NO_CANDIDATES {2,}2 /m);
    expect(text).toMatch(/FAIL job_freshness\n {6}No retry_identity_matching run succeeded for 30\.\d+ h \(STALE\)/);
    // The header and rows of the health table share column positions.
    const healthLines = text.split('HEALTH')[1]!.split('\n\n')[0]!.split('\n').slice(1);
    const statusColumn = healthLines[0]!.indexOf('status');
    expect(healthLines.slice(1).every((l) => /^(OK|WARN|FAIL)/.test(l.slice(statusColumn)))).toBe(true);
  });
});

describe('diagnose: arrival latency', () => {
  it('shows the landed -> linked latency of the last hour and day, in the text and in --json', async () => {
    const { leadId } = await resolvedLead(db.pool, 0);
    /* The work list as the test writes it (the insert's trigger recorded the lead already). */
    await db.pool.query('truncate ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes');
    await db.pool.query(`insert into ops.lead_changes (lead_id, recorded_at) values ($1, now() - interval '10 minutes')`, [leadId]);
    await db.pool.query(`update canon.identity_links set linked_at = (select recorded_at from ops.lead_changes where lead_id = $1) + interval '4 seconds' where source_pk = $1`, [leadId]);
    await db.pool.query(`insert into ops.lead_changes (lead_id, recorded_at) values ('waiting-lead', now() - interval '2 hours')`);
    const d = await readDiagnosis(db.pool);
    expect(d.arrival_latency).toEqual([
      { period: '1h', recorded: 1, linked: 1, waiting: 0, p50_seconds: 4, p95_seconds: 4, p99_seconds: 4, max_seconds: 4 },
      { period: '1d', recorded: 2, linked: 1, waiting: 1, p50_seconds: 4, p95_seconds: 4, p99_seconds: 4, max_seconds: 4 },
    ]);
    const text = renderDiagnosis(d);
    expect(text).toMatch(/ARRIVALS: landed -> linked/);
    expect(text).toMatch(/last hour {2}1 recorded, 1 linked, 0 waiting; p50 4\.0 s, p95 4\.0 s, p99 4\.0 s/);
    const r = await idgap('diagnose', '--json');
    expect(diagnosisSchema.parse(JSON.parse(r.stdout)).arrival_latency[1]).toMatchObject({ recorded: 2, waiting: 1 });
  });
});

describe('diagnose after a real recovery run (numbers written by the engine, not by hand)', () => {
  it('reports the run, its matches, the fail reasons and clean integrity, agreeing with the test invariants', async () => {
    const eightDaysAgo = new Date(Date.now() - 8 * 86_400_000).toISOString().replace('T', ' ').slice(0, 19);
    await insertDriver(db.pool, { driver_id: 'drv-1', phone: '51987654321', full_name: 'QUISPE MAMANI ROSA' });
    await refreshIndex(db.pool);
    const matched = await insertLead(db.pool, { lead_created_at: eightDaysAgo, park_phone: '+51 987 654 321', first_name: 'Rosa', last_name: 'Quispe' });
    await insertLead(db.pool, { lead_created_at: eightDaysAgo, first_name: 'Sin', last_name: 'Datos' });
    await insertLead(db.pool, { lead_created_at: eightDaysAgo, park_phone: '999111222', first_name: 'Nadie', last_name: 'Conocido' });
    await runJob(db.url, db.pool, 'retry_identity_matching', {});

    const d = await readDiagnosis(db.pool);
    expect(d.freshness).toMatchObject({ status: 'OK', runs_24h: 1, succeeded_runs_24h: 1, matched_24h: 1, processed_24h: 3 });
    expect(d.volume_24h.find((v) => v.task === 'retry_identity_matching')).toMatchObject({ runs: 1, processed: 3, matched: 1, pending: 2 });
    expect(d.volume_24h.find((v) => v.task === 'snapshot_identity_gap')).toMatchObject({ runs: 1, succeeded: 1 });
    expect(d.fail_reasons.map((r) => [r.fail_reason, r.leads]).sort()).toEqual([['MISSING_KEYS', 1], ['NO_CANDIDATES', 1]]);
    expect(d.gap).toMatchObject({ total_leads: 3, unresolved: 2, resolved: 1 });
    expect(d.trend.find((t) => t.period === '1d')).toMatchObject({ pct_unresolved_now: 66.67 });
    expect(d.integrity.every((i) => i.violations === 0)).toBe(true);
    expect(d.health.find((h) => h.check === 'job_freshness')!.status).toBe('ok');
    expect(d.health.find((h) => h.check === 'match_flow')!.status).toBe('ok');
    expect(Object.values(await invariantViolations(db.pool)).every((n) => n === 0)).toBe(true);

    // Break an invariant by hand: the views and the test invariants count it alike.
    await db.pool.query(`delete from canon.identity_links where source_table = 'module_ct_cabinet_leads' and source_pk = $1`, [matched]);
    const broken = await readDiagnosis(db.pool);
    const counts = Object.fromEntries(broken.integrity.map((i) => [i.check, i.violations]));
    const invariants = await invariantViolations(db.pool);
    expect(counts.matched_without_link).toBe(1);
    expect(counts.matched_without_link).toBe(invariants.matched_without_link);
    expect(counts.person_without_lead).toBe(invariants.person_without_lead);
    expect(broken.ok).toBe(false);
    expect(broken.health.find((h) => h.check === 'matched_without_link')!.status).toBe('fail');
  });
});
