import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';
import { useTestDatabase } from '../support/db.js';
import { insertDriver, insertLead, refreshIndex, runJob } from '../support/fixtures.js';
import { silentLog } from '../support/log.js';
import { startTestApi, type TestApi } from '../support/api.js';

const db = await useTestDatabase();
let api: TestApi;
let text = '';
let families: PromFamily[] = [];

/* 2 leads matched by phone, 1 old lead without candidates (no_identity/high), and worker jobs in every state. */
beforeAll(async () => {
  silentLog();
  await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321' });
  await insertDriver(db.pool, { driver_id: 'd2', phone: '51987654322' });
  await insertLead(db.pool, { park_phone: '987654321' });
  await insertLead(db.pool, { park_phone: '987654322' });
  await insertLead(db.pool, { park_phone: '900000000', lead_created_at: '2026-01-01 00:00:00' });
  await refreshIndex(db.pool);
  await runJob(db.url, db.pool, 'retry_identity_matching', {});
  await db.pool.query(`
    select graphile_worker.add_job('check_identity_gap_alerts', '{}'::json, run_at => now() + interval '1 hour');
    select graphile_worker.add_job('check_identity_gap_alerts', '{}'::json, run_at => now() + interval '1 hour');
    select graphile_worker.add_job('refresh_drivers_index', '{}'::json, run_at => now() + interval '1 hour');
    select graphile_worker.add_job('refresh_drivers_index', '{}'::json, run_at => now() + interval '1 hour');
    select graphile_worker.add_job('refresh_drivers_index', '{}'::json, run_at => now() + interval '1 hour');
    select graphile_worker.add_job('refresh_drivers_index', '{}'::json, run_at => now() + interval '1 hour');`);
  // one locked, one retrying (failed once), one permanently failed, one runnable
  await db.pool.query(`
    with jobs as (select id, row_number() over (order by id) as n from graphile_worker._private_jobs
                  where task_id = (select id from graphile_worker._private_tasks where identifier = 'refresh_drivers_index'))
    update graphile_worker._private_jobs as j
       set locked_at = case when jobs.n = 1 then now() end, locked_by = case when jobs.n = 1 then 'w1' end,
           attempts = case jobs.n when 2 then 1 when 3 then 25 else 0 end
      from jobs where jobs.id = j.id`);
  api = await startTestApi(db.pool);
  const res = await api.get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  text = await res.text();
  families = parsePrometheusTextFormat(text);
});
afterAll(async () => api?.app.close());

const family = (name: string) => {
  const f = families.find((x) => x.name === name);
  if (!f) throw new Error(`metric ${name} missing from /metrics`);
  return f;
};
const sample = (name: string, labels: Record<string, string> = {}) =>
  family(name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v) && Object.keys(m.labels ?? {}).length === Object.keys(labels).length);
const value = (name: string, labels: Record<string, string> = {}) => {
  const s = sample(name, labels);
  if (!s) throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
  return Number(s.value);
};

describe('GET /metrics', () => {
  it('is valid Prometheus text: every family has HELP and TYPE, and a real parser reads it', () => {
    const ours = families;
    expect(ours.map((f) => f.name).sort()).toEqual([
      'idgap_gap_leads', 'idgap_gap_pct_unresolved', 'idgap_health_check_status', 'idgap_last_success_timestamp_seconds',
      'idgap_lead_link_latency_seconds', 'idgap_matched_24h', 'idgap_queue_jobs', 'idgap_review_decisions_total', 'idgap_review_queue_leads',
      'idgap_seconds_since_last_success',
    ]);
    for (const f of ours) {
      const type = f.name === 'idgap_lead_link_latency_seconds' ? 'histogram' : f.name.endsWith('_total') ? 'counter' : 'gauge';
      expect(f.type, f.name).toBe(type.toUpperCase());
      expect(f.help.length, f.name).toBeGreaterThan(10);
      expect(text).toContain(`# HELP ${f.name} `);
      expect(text).toContain(`# TYPE ${f.name} ${type}`);
    }
  });

  it('passes promtool check metrics where promtool is installed', () => {
    const which = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
    const promtool = which.status === 0 ? which.stdout.trim() : '';
    // The JS parser above is the assertion that always runs; promtool adds Prometheus's own linter when present.
    if (promtool) expect(execFileSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' })).toBe('');
    expect(families).toHaveLength(10);
  });

  it('exports the gap by reason and risk, zero-filled, and the percentage unresolved', () => {
    expect(value('idgap_gap_leads', { gap_reason: 'no_identity', risk_level: 'high' })).toBe(1);
    expect(value('idgap_gap_leads', { gap_reason: 'no_origin', risk_level: 'low' })).toBe(0);
    expect(family('idgap_gap_leads').metrics).toHaveLength(9);
    expect(value('idgap_gap_pct_unresolved')).toBe(33.33);
  });

  it('exports the last success per task, from the run ledger', () => {
    const last = value('idgap_last_success_timestamp_seconds', { task: 'retry_identity_matching' });
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(300);
    const since = value('idgap_seconds_since_last_success', { task: 'retry_identity_matching' });
    expect(since).toBeGreaterThanOrEqual(0);
    expect(since).toBeLessThan(300);
    expect(value('idgap_last_success_timestamp_seconds', { task: 'refresh_drivers_index' })).toBe(0);
    expect(sample('idgap_seconds_since_last_success', { task: 'refresh_drivers_index' })?.value).toBe('+Inf');
    expect(value('idgap_matched_24h')).toBe(2);
  });

  it('exports each health check as 0 ok, 1 warn, 2 fail', async () => {
    const { rows } = await db.pool.query<{ check: string; status: string }>('select "check", status from ops.v_identity_gap_health');
    expect(rows).toHaveLength(7);
    for (const r of rows) expect(value('idgap_health_check_status', { check: r.check }), r.check).toBe({ ok: 0, warn: 1, fail: 2 }[r.status]);
  });

  it('exports the queue by task and state: runnable, locked, retrying, permanently_failed', () => {
    expect(value('idgap_queue_jobs', { task: 'refresh_drivers_index', state: 'locked' })).toBe(1);
    expect(value('idgap_queue_jobs', { task: 'refresh_drivers_index', state: 'retrying' })).toBe(1);
    expect(value('idgap_queue_jobs', { task: 'refresh_drivers_index', state: 'permanently_failed' })).toBe(1);
    expect(value('idgap_queue_jobs', { task: 'refresh_drivers_index', state: 'runnable' })).toBe(1);
    expect(value('idgap_queue_jobs', { task: 'check_identity_gap_alerts', state: 'runnable' })).toBe(2);
    expect(value('idgap_queue_jobs', { task: 'retry_identity_matching', state: 'runnable' })).toBe(0);
  });

  it('observes each lead linked after its work-list record once in idgap_lead_link_latency_seconds, however many scrapes', async () => {
    const histogram = async () => {
      const f = parsePrometheusTextFormat(await (await api.get('/metrics')).text()).find((x) => x.name === 'idgap_lead_link_latency_seconds')!;
      return f.metrics[0] as unknown as { buckets: Record<string, string>; count: string; sum: string };
    };
    const before = await histogram();
    const lead = await insertLead(db.pool, { park_phone: '987650001' });
    /* The insert's trigger recorded the lead in the work list; it landed 3 s before its link. */
    await db.pool.query('select ops.expand_lead_insert_ranges()');
    const recorded = await db.pool.query(`update ops.lead_changes set recorded_at = now() - interval '3 seconds' where lead_id = $1`, [lead]);
    expect(recorded.rowCount).toBe(1);
    await db.pool.query(`insert into canon.identity_registry (person_key, confidence_level) values ('00000000-0000-7000-8000-00000000a001', 'HIGH')`);
    await db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
                         values ('00000000-0000-7000-8000-00000000a001', 'module_ct_cabinet_leads', $1, 'MANUAL', 100, 'HIGH')`, [lead]);
    const first = await histogram();
    const second = await histogram();
    expect(Number(first.count) - Number(before.count)).toBe(1);
    expect(second.count).toBe(first.count);
    expect(Number(first.sum) - Number(before.sum)).toBeGreaterThanOrEqual(3);
    expect(Number(first.sum) - Number(before.sum)).toBeLessThan(60);
    /* 3 s and a little: above the 2 s bucket, inside the 5 s one. */
    expect(Number(first.buckets['2']) - Number(before.buckets['2'])).toBe(0);
    expect(Number(first.buckets['5']) - Number(before.buckets['5'])).toBe(1);
    expect(Object.keys(first.buckets).sort()).toEqual(['0.5', '1', '2', '5', '10', '20', '30', '60', '120', '300', '600', '+Inf'].sort());
  });
});
