import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { insertDaily, insertMatchingJob, insertRun, leadAged, linkLead, person, resolvedLead, rowsOf } from '../../../support/gap.js';

interface HealthRow {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  value: string | null;
  threshold: string | null;
  hint: string;
  status_rank: number;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

async function check(name: string): Promise<HealthRow> {
  const [row] = await rowsOf<HealthRow>(db.pool, 'select * from ops.v_identity_gap_health where "check" = $1', [name]);
  expect(row, `check ${name} has a row`).toBeDefined();
  return row!;
}

async function refreshedHoursAgo(hours: number | null): Promise<void> {
  await db.pool.query(`update canon.drivers_index_state set last_refreshed_at = case when $1::double precision is null then null else now() - ($1::double precision * interval '1 hour') end`, [hours]);
}

describe('ops.v_identity_gap_health', () => {
  it('lists the six checks of SPEC 2.4 and work_lists_drain, in a fixed order, with status_rank matching status', async () => {
    const rows = await rowsOf<HealthRow>(db.pool, 'select * from ops.v_identity_gap_health');
    expect(rows.map((r) => r.check)).toEqual(['job_freshness', 'match_flow', 'drivers_index_freshness', 'matched_without_link', 'link_without_origin', 'gap_trend', 'work_lists_drain']);
    for (const r of rows) expect(r.status_rank).toBe({ ok: 1, warn: 2, fail: 3 }[r.status]);
  });

  describe('job_freshness', () => {
    it('fails with a null value when recovery never succeeded', async () => {
      const row = await check('job_freshness');
      expect(row).toMatchObject({ status: 'fail', value: null, threshold: '24' });
      expect(row.hint).toMatch(/never succeeded/);
    });

    it('fails when the only recent recovery run failed', async () => {
      await insertRun(db.pool, { state: 'failed', hoursAgo: 1, error: 'boom' });
      expect((await check('job_freshness')).status).toBe('fail');
    });

    it('fails (stale) when the last success is 25 hours old', async () => {
      await insertRun(db.pool, { hoursAgo: 25 });
      const row = await check('job_freshness');
      expect(row.status).toBe('fail');
      expect(Number(row.value)).toBeCloseTo(25, 1);
      expect(row.hint).toMatch(/STALE/);
    });

    it('is ok when a recovery run succeeded an hour ago, even if an older one failed', async () => {
      await insertRun(db.pool, { state: 'failed', hoursAgo: 2 });
      await insertRun(db.pool, { hoursAgo: 1 });
      const row = await check('job_freshness');
      expect(row.status).toBe('ok');
      expect(Number(row.value)).toBeCloseTo(1, 1);
    });

    it('ignores other tasks', async () => {
      await insertRun(db.pool, { task: 'snapshot_identity_gap', hoursAgo: 1 });
      expect((await check('job_freshness')).status).toBe('fail');
    });

    it('follows the alert_job_stale_hours setting', async () => {
      await insertRun(db.pool, { hoursAgo: 25 });
      await db.pool.query(`update ops.settings set value = '30' where key = 'alert_job_stale_hours'`);
      expect(await check('job_freshness')).toMatchObject({ status: 'ok', threshold: '30' });
    });
  });

  describe('match_flow', () => {
    it('warns when recoverable leads remain and nothing matched in 48 h', async () => {
      await leadAged(db.pool, 3);
      await insertRun(db.pool, { hoursAgo: 49, matched: 10 });
      await insertRun(db.pool, { hoursAgo: 1, matched: 0 });
      expect(await check('match_flow')).toMatchObject({ status: 'warn', value: '0', threshold: '48' });
    });

    it('is ok when a run matched leads in the last 48 h', async () => {
      await leadAged(db.pool, 3);
      await insertRun(db.pool, { hoursAgo: 47, matched: 4 });
      expect(await check('match_flow')).toMatchObject({ status: 'ok', value: '4' });
    });

    it('is ok when nothing recoverable is left: every gap lead has failed for good', async () => {
      const leadId = await leadAged(db.pool, 3);
      await insertMatchingJob(db.pool, { leadId, status: 'failed', failReason: 'MISSING_KEYS', attempts: 5 });
      expect((await check('match_flow')).status).toBe('ok');
    });

    it('warns again when a changed driver re-opened a lead that failed for good (new evidence)', async () => {
      const leadId = await leadAged(db.pool, 3);
      await insertMatchingJob(db.pool, { leadId, status: 'failed', failReason: 'NO_CANDIDATES', attempts: 5 });
      await db.pool.query(`update ops.identity_matching_jobs set next_attempt_at = now() where source_id = $1`, [leadId]);
      expect((await check('match_flow')).status).toBe('warn');
    });

    it('stays ok when the drivers index changed without meeting the failed lead (re-opening is targeted)', async () => {
      const leadId = await leadAged(db.pool, 3);
      await insertMatchingJob(db.pool, { leadId, status: 'failed', failReason: 'NO_CANDIDATES', attempts: 5 });
      await db.pool.query(`update canon.drivers_index_state set content_changed_at = now()`);
      expect((await check('match_flow')).status).toBe('ok');
    });

    it('is ok when there is no gap at all', async () => {
      await resolvedLead(db.pool, 3);
      expect((await check('match_flow')).status).toBe('ok');
    });
  });

  describe('drivers_index_freshness', () => {
    it('fails when drivers exist and the index was never built', async () => {
      await db.pool.query(`insert into public.drivers (driver_id) values ('d1')`);
      expect((await check('drivers_index_freshness')).status).toBe('fail');
    });

    it('is ok when there are no drivers and no index yet', async () => {
      expect((await check('drivers_index_freshness')).status).toBe('ok');
    });

    it('warns when the index was refreshed more than 48 h ago', async () => {
      await db.pool.query(`insert into public.drivers (driver_id) values ('d1')`);
      await refreshedHoursAgo(50);
      const row = await check('drivers_index_freshness');
      expect(row.status).toBe('warn');
      expect(Number(row.value)).toBeCloseTo(50, 1);
    });

    it('is ok when the index was refreshed an hour ago', async () => {
      await db.pool.query(`insert into public.drivers (driver_id) values ('d1')`);
      await refreshedHoursAgo(1);
      expect((await check('drivers_index_freshness')).status).toBe('ok');
    });

    it('still reports (fail) when the index state row is missing', async () => {
      await db.pool.query(`insert into public.drivers (driver_id) values ('d1')`);
      await db.pool.query('delete from canon.drivers_index_state');
      try {
        expect((await check('drivers_index_freshness')).status).toBe('fail');
      } finally {
        await db.pool.query('insert into canon.drivers_index_state (singleton) values (true) on conflict do nothing');
      }
    });
  });

  describe('matched_without_link', () => {
    it('is ok when every matched job has its link', async () => {
      const { leadId, personKey } = await resolvedLead(db.pool, 3);
      await insertMatchingJob(db.pool, { leadId, status: 'matched', personKey });
      expect(await check('matched_without_link')).toMatchObject({ status: 'ok', value: '0' });
    });

    it('fails when a matched job\'s lead has no link', async () => {
      const leadId = await leadAged(db.pool, 3);
      await insertMatchingJob(db.pool, { leadId, status: 'matched', personKey: await person(db.pool) });
      expect(await check('matched_without_link')).toMatchObject({ status: 'fail', value: '1' });
    });

    it('fails when a matched job\'s lead is linked to another person than the one matched', async () => {
      const { leadId } = await resolvedLead(db.pool, 3);
      const other = await resolvedLead(db.pool, 3);
      await insertMatchingJob(db.pool, { leadId, status: 'matched', personKey: other.personKey });
      expect(await check('matched_without_link')).toMatchObject({ status: 'fail', value: '1' });
    });
  });

  describe('link_without_origin', () => {
    it('is ok when every person recovery matched has a cabinet_lead origin', async () => {
      const { leadId, personKey } = await resolvedLead(db.pool, 3);
      await insertMatchingJob(db.pool, { leadId, status: 'matched', personKey });
      expect(await check('link_without_origin')).toMatchObject({ status: 'ok', value: '0' });
    });

    it('fails when a person recovery matched has no origin', async () => {
      const leadId = await leadAged(db.pool, 3);
      const p = await person(db.pool);
      await linkLead(db.pool, leadId, p);
      await insertMatchingJob(db.pool, { leadId, status: 'matched', personKey: p });
      expect(await check('link_without_origin')).toMatchObject({ status: 'fail', value: '1' });
    });

    it('does not count a linked lead recovery never touched (that is the no_origin gap, not a violation)', async () => {
      const leadId = await leadAged(db.pool, 3);
      await linkLead(db.pool, leadId, await person(db.pool));
      expect((await check('link_without_origin')).status).toBe('ok');
    });
  });

  describe('gap_trend', () => {
    it('warns when there is no history', async () => {
      const row = await check('gap_trend');
      expect(row).toMatchObject({ status: 'warn', value: null });
      expect(row.hint).toMatch(/snapshot/);
    });

    it('is ok on day one, right after the first snapshot, and says there is no history yet', async () => {
      await insertDaily(db.pool, 0, { pct: 10 });
      const row = await check('gap_trend');
      expect(row).toMatchObject({ status: 'ok', value: null });
      expect(row.hint).toMatch(/^No history yet/);
    });

    it('warns when yesterday is missing while older history exists', async () => {
      await insertDaily(db.pool, 2, { pct: 10 });
      await insertDaily(db.pool, 0, { pct: 10 });
      const row = await check('gap_trend');
      expect(row.status).toBe('warn');
      expect(row.hint).toMatch(/No gap history for today or yesterday/);
    });

    it('warns when the gap grew since yesterday', async () => {
      await insertDaily(db.pool, 1, { pct: 10 });
      await insertDaily(db.pool, 0, { pct: 12.5 });
      const row = await check('gap_trend');
      expect(row.status).toBe('warn');
      expect(Number(row.value)).toBe(2.5);
    });

    it('is ok when the gap went down', async () => {
      await insertDaily(db.pool, 1, { pct: 10 });
      await insertDaily(db.pool, 0, { pct: 8 });
      const row = await check('gap_trend');
      expect(row.status).toBe('ok');
      expect(Number(row.value)).toBe(-2);
    });

    it('is ok when the gap stayed flat', async () => {
      await insertDaily(db.pool, 1, { pct: 10 });
      await insertDaily(db.pool, 0, { pct: 10 });
      expect((await check('gap_trend')).status).toBe('ok');
    });
  });

  describe('work_lists_drain', () => {
    beforeEach(async () => {
      await db.pool.query('truncate ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes');
    });

    it('is ok with value 0 when nothing waits in the work lists', async () => {
      await db.pool.query(`insert into ops.lead_changes (lead_id, recorded_at, run_id, taken_at) values ('taken', now() - interval '1 hour', 1, now())`);
      expect(await check('work_lists_drain')).toMatchObject({ status: 'ok', value: '0', threshold: '300' });
    });

    it('is ok while the oldest untaken row is younger than alert_work_list_stale_seconds', async () => {
      await db.pool.query(`insert into ops.lead_changes (lead_id, recorded_at) values ('new', now() - interval '60 seconds')`);
      const row = await check('work_lists_drain');
      expect(row.status).toBe('ok');
      expect(Number(row.value)).toBeGreaterThanOrEqual(60);
    });

    it.each([['lead_changes', 'lead_id'], ['driver_changes', 'driver_id'], ['lead_insert_ranges', 'first_id']])('fails when the oldest untaken row of ops.%s is older than the threshold', async (table, column) => {
      const extra = table === 'driver_changes' ? ', change' : table === 'lead_insert_ranges' ? ', last_id, lead_count' : '';
      const extraValue = table === 'driver_changes' ? ", 'insert'" : table === 'lead_insert_ranges' ? ', 1, 1' : '';
      const value = table === 'lead_insert_ranges' ? '1' : "'stuck'";
      await db.pool.query(`insert into ops.${table} (${column}, recorded_at${extra}) values (${value}, now() - interval '10 minutes'${extraValue})`);
      const row = await check('work_lists_drain');
      expect(row.status).toBe('fail');
      expect(Number(row.value)).toBeGreaterThanOrEqual(600);
      expect(row.hint).toMatch(/recover_arrivals/);
    });

    it('follows the threshold in ops.settings', async () => {
      await db.pool.query(`insert into ops.lead_changes (lead_id, recorded_at) values ('stuck', now() - interval '10 minutes')`);
      await db.pool.query(`update ops.settings set value = '3600' where key = 'alert_work_list_stale_seconds'`);
      try {
        expect((await check('work_lists_drain')).status).toBe('ok');
      } finally {
        await db.pool.query(`update ops.settings set value = '300' where key = 'alert_work_list_stale_seconds'`);
      }
    });
  });
});
