import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { useTestDatabase } from '../support/db.js';
import { insertDriver, insertLead, refreshIndex, runJob } from '../support/fixtures.js';
import { silentLog } from '../support/log.js';
import { startTestApi, type TestApi } from '../support/api.js';

const db = await useTestDatabase();
let api: TestApi;
const leads: Record<string, string> = {};

/*
 * Data: 3 leads matched by phone (resolved), 2 old leads with no candidate
 * (no_identity, high), 1 recent lead (no_identity, low), 1 lead without a date (no_identity, medium).
 */
beforeAll(async () => {
  silentLog();
  for (let i = 1; i <= 3; i++) {
    await insertDriver(db.pool, { driver_id: `d${i}`, phone: `51 98765432${i}`, full_name: `PEREZ LOPEZ JUAN${i}` });
    leads[`matched${i}`] = await insertLead(db.pool, { park_phone: `98765432${i}`, first_name: 'Juan', last_name: 'Perez', lead_created_at: '2026-10-01 09:00:00' });
  }
  leads.old1 = await insertLead(db.pool, { park_phone: '911111111', lead_created_at: '2026-10-01 09:00:00' });
  leads.old2 = await insertLead(db.pool, { park_phone: '922222222', lead_created_at: '2026-10-05 09:00:00' });
  leads.recent = await insertLead(db.pool, { park_phone: '933333333', lead_created_at: new Date().toISOString().slice(0, 10) + ' 00:00:00' });
  leads.undated = await insertLead(db.pool, { park_phone: '944444444', lead_created_at: null });
  await refreshIndex(db.pool);
  await runJob(db.url, db.pool, 'retry_identity_matching', {});
  await db.pool.query(`insert into ops.identity_gap_daily (snapshot_date, total_leads, unresolved, resolved, pct_unresolved, no_identity, no_origin,
      inconsistent_origin, risk_high, risk_medium, risk_low, matched_in_day, runs_in_day)
    select d::date, 10, 5, 5, 50, 5, 0, 0, 2, 2, 1, 0, 0 from generate_series(current_date - 39, current_date, interval '1 day') as d
    on conflict (snapshot_date) do nothing`);
  api = await startTestApi(db.pool);
});
afterAll(async () => api?.app.close());

async function json(res: Response): Promise<any> {
  return res.json();
}

async function expectBadRequest(path: string, param: string): Promise<void> {
  const res = await api.get(path);
  expect(res.status, path).toBe(400);
  const body = await json(res);
  expect(body.error).toBe('bad_request');
  expect(body.message).toMatch(new RegExp(`^${param}: `));
  expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+/);
}

describe('GET /api/v1/ops/identity-gaps', () => {
  it('returns totals, the breakdown by reason and risk, and the unresolved leads ordered by risk then age', async () => {
    const res = await api.get('/api/v1/ops/identity-gaps');
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.totals).toEqual({ total: 7, unresolved: 4, resolved: 3, pct_unresolved: 57.14, high_risk: 2 });
    expect(body.breakdown).toEqual([
      { gap_reason: 'no_identity', risk_level: 'high', leads: 2 },
      { gap_reason: 'no_identity', risk_level: 'medium', leads: 1 },
      { gap_reason: 'no_identity', risk_level: 'low', leads: 1 },
    ]);
    expect(body.items.map((i: { lead_id: string }) => i.lead_id)).toEqual([leads.old1, leads.old2, leads.undated, leads.recent]);
    expect(body.items[0]).toMatchObject({ gap_reason: 'no_identity', risk_level: 'high', risk_rank: 3, has_identity: false, trips_14d: 0, lead_date: '2026-10-01' });
    expect(body.meta).toMatchObject({ page: 1, page_size: 50, total_items: 4, total_pages: 1 });
    expect(Date.now() - Date.parse(body.meta.as_of)).toBeLessThan(60_000);
  });

  it('pages with page and page_size in the same stable order', async () => {
    const first = await json(await api.get('/api/v1/ops/identity-gaps?page_size=3&page=1'));
    const second = await json(await api.get('/api/v1/ops/identity-gaps?page_size=3&page=2'));
    expect(first.items.map((i: { lead_id: string }) => i.lead_id)).toEqual([leads.old1, leads.old2, leads.undated]);
    expect(second.items.map((i: { lead_id: string }) => i.lead_id)).toEqual([leads.recent]);
    expect(second.meta).toMatchObject({ page: 2, page_size: 3, total_items: 4, total_pages: 2 });
  });

  it('pages past the first 1000 items with their own LIMIT/OFFSET', async () => {
    const deep = await json(await api.get('/api/v1/ops/identity-gaps?page_size=1000&page=2'));
    expect(deep.items).toEqual([]);
    expect(deep.meta).toMatchObject({ page: 2, page_size: 1000, total_items: 4, total_pages: 1 });
    const last = await json(await api.get('/api/v1/ops/identity-gaps?page_size=999&page=1'));
    expect(last.items).toHaveLength(4);
  });

  it('filters by risk_level, gap_reason and the lead date window', async () => {
    const high = await json(await api.get('/api/v1/ops/identity-gaps?risk_level=high'));
    expect(high.items.map((i: { lead_id: string }) => i.lead_id)).toEqual([leads.old1, leads.old2]);
    expect(high.meta.total_items).toBe(2);
    const resolved = await json(await api.get('/api/v1/ops/identity-gaps?gap_reason=resolved'));
    expect(resolved.items.map((i: { lead_id: string }) => i.lead_id).sort()).toEqual([leads.matched1, leads.matched2, leads.matched3].sort());
    expect(resolved.items.every((i: { has_identity: boolean; has_origin: boolean }) => i.has_identity && i.has_origin)).toBe(true);
    const window = await json(await api.get('/api/v1/ops/identity-gaps?date_from=2026-10-02&date_to=2026-10-31'));
    expect(window.totals).toMatchObject({ total: 1, unresolved: 1, resolved: 0 });
    expect(window.items.map((i: { lead_id: string }) => i.lead_id)).toEqual([leads.old2]);
    const none = await json(await api.get('/api/v1/ops/identity-gaps?gap_reason=no_origin'));
    expect(none.items).toEqual([]);
    expect(none.meta).toMatchObject({ total_items: 0, total_pages: 0 });
  });

  it.each([
    ['?page=0', 'page'],
    ['?page=abc', 'page'],
    ['?page_size=0', 'page_size'],
    ['?page_size=1001', 'page_size'],
    ['?page_size=1.5', 'page_size'],
    ['?risk_level=urgent', 'risk_level'],
    ['?gap_reason=lost', 'gap_reason'],
    ['?date_from=2026-13-01', 'date_from'],
    ['?date_from=0000-01-01', 'date_from'],
    ['?date_to=0000-12-31', 'date_to'],
    ['?date_to=2024-02-30', 'date_to'],
    ['?date_to=yesterday', 'date_to'],
    ['?date_from=2026-11-02&date_to=2026-11-01', 'date_from'],
    ['?color=blue', 'color'],
    ['?page=1&page=2', 'page'],
  ])('answers 400 naming the parameter for %s', async (query, param) => {
    await expectBadRequest(`/api/v1/ops/identity-gaps${query}`, param);
  });

  it('says what docs/api.md quotes for a page_size over 1000', async () => {
    expect((await json(await api.get('/api/v1/ops/identity-gaps?page_size=1001'))).message).toBe('page_size: must be at most 1000');
  });

  it('says a bad risk_level or gap_reason in the words of POST run-recovery (one definition of the enums)', async () => {
    expect((await json(await api.get('/api/v1/ops/identity-gaps?risk_level=extreme'))).message).toBe('risk_level: must be high, medium or low');
    expect((await json(await api.get('/api/v1/ops/identity-gaps?gap_reason=lost'))).message).toBe(
      'gap_reason: must be no_identity, no_origin, inconsistent_origin or resolved',
    );
  });
});

describe('GET /api/v1/ops/identity-gaps/alerts', () => {
  it('lists alerts by severity then days open, with counts per type', async () => {
    const body = await json(await api.get('/api/v1/ops/identity-gaps/alerts'));
    expect(body.counts).toEqual([
      { alert_type: 'over_7d_unresolved', severity: 'high', alerts: 2 },
      { alert_type: 'over_24h_no_identity', severity: 'medium', alerts: 2 },
    ]);
    expect(body.items.map((a: { lead_id: string; alert_type: string }) => [a.lead_id, a.alert_type])).toEqual([
      [leads.old1, 'over_7d_unresolved'],
      [leads.old2, 'over_7d_unresolved'],
      [leads.old1, 'over_24h_no_identity'],
      [leads.old2, 'over_24h_no_identity'],
    ]);
    expect(body.meta).toMatchObject({ page: 1, page_size: 50, total_items: 4, total_pages: 1 });
  });

  it('filters by alert_type and pages', async () => {
    const body = await json(await api.get('/api/v1/ops/identity-gaps/alerts?alert_type=over_7d_unresolved&page_size=1&page=2'));
    expect(body.items.map((a: { lead_id: string }) => a.lead_id)).toEqual([leads.old2]);
    expect(body.meta).toMatchObject({ page: 2, page_size: 1, total_items: 2, total_pages: 2 });
  });

  it.each([
    ['?alert_type=fire', 'alert_type'],
    ['?page=-1', 'page'],
    ['?page_size=5000', 'page_size'],
    ['?severity=high', 'severity'],
  ])('answers 400 naming the parameter for %s', async (query, param) => {
    await expectBadRequest(`/api/v1/ops/identity-gaps/alerts${query}`, param);
  });
});

describe('GET /api/v1/ops/identity-gaps/health, history, fail-reasons, freshness', () => {
  it('health returns every check of the view and the worst status overall', async () => {
    const body = await json(await api.get('/api/v1/ops/identity-gaps/health'));
    expect(body.checks.map((c: { check: string }) => c.check)).toEqual([
      'job_freshness', 'match_flow', 'drivers_index_freshness', 'matched_without_link', 'link_without_origin', 'gap_trend', 'work_lists_drain',
    ]);
    expect(body.checks.find((c: { check: string }) => c.check === 'job_freshness')).toMatchObject({ status: 'ok', threshold: 24, status_rank: 1 });
    const worst = Math.max(...body.checks.map((c: { status_rank: number }) => c.status_rank));
    expect(body.status).toBe(['ok', 'warn', 'fail'][worst - 1]);
  });

  it('history returns the last N days oldest first (30 by default)', async () => {
    const body = await json(await api.get('/api/v1/ops/identity-gaps/history'));
    expect(body.days).toBe(30);
    expect(body.items).toHaveLength(30);
    const dates = body.items.map((r: { snapshot_date: string }) => r.snapshot_date);
    expect([...dates].sort()).toEqual(dates);
    expect(body.items[0]).toMatchObject({ total_leads: 10, unresolved: 5, pct_unresolved: 50, no_identity: 5 });
    const week = await json(await api.get('/api/v1/ops/identity-gaps/history?days=7'));
    expect(week.items).toHaveLength(7);
  });

  it.each([['?days=0'], ['?days=366'], ['?days=x']])('history answers 400 naming days for %s', async (q) => {
    await expectBadRequest(`/api/v1/ops/identity-gaps/history${q}`, 'days');
  });

  it('fail-reasons counts the unmatched leads by reason code', async () => {
    const body = await json(await api.get('/api/v1/ops/identity-gaps/fail-reasons'));
    expect(body.items).toEqual([
      expect.objectContaining({ fail_reason: 'NO_CANDIDATES', leads: 3, pending: 3, failed: 0, avg_attempts: 1, max_attempts: 1 }),
      expect.objectContaining({ fail_reason: 'INVALID_LEAD_DATE', leads: 1, pending: 1, failed: 0 }),
    ]);
    await expectBadRequest('/api/v1/ops/identity-gaps/fail-reasons?limit=0', 'limit');
  });

  it('freshness reports OK after a successful recovery, with the leads matched in 24 h', async () => {
    const body = await json(await api.get('/api/v1/ops/identity-gaps/freshness'));
    expect(body).toMatchObject({ task: 'retry_identity_matching', status: 'OK', stale_hours: 24, runs_24h: 1, matched_24h: 3 });
    expect(body.hours_since_last_success).toBeLessThan(1);
  });
});

describe('HTTP behaviour', () => {
  it('sends the security headers on every response, 404s included, and no x-powered-by', async () => {
    for (const path of ['/healthz', '/api/v1/ops/identity-gaps?page=0', '/nowhere', '/']) {
      const res = await api.get(path);
      expect(res.headers.get('content-security-policy'), path).toMatch(/default-src 'self'/);
      expect(res.headers.get('content-security-policy'), path).not.toMatch(/unsafe-inline/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
    expect((await api.get('/api/v1/ops/identity-gaps')).headers.get('cache-control')).toBe('no-store');
    expect((await api.get('/assets/chart.js')).headers.get('cache-control')).toBe('public, max-age=86400');
  });

  it('answers an unknown route with a JSON 404', async () => {
    const res = await api.get('/api/v1/nothing');
    expect(res.status).toBe(404);
    expect(await json(res)).toEqual({ error: 'not_found', message: 'no route GET /api/v1/nothing' });
  });

  it('hides database errors behind a JSON 500 without a stack trace', async () => {
    const url = new URL(db.url);
    url.pathname = '/no_such_database';
    const brokenPool = new pg.Pool({ connectionString: url.toString(), max: 1 });
    const broken = await startTestApi(brokenPool);
    try {
      const res = await broken.get('/api/v1/ops/identity-gaps');
      expect(res.status).toBe(500);
      expect(await json(res)).toEqual({ error: 'internal', message: 'internal error' });
      expect((await broken.get('/healthz')).status).toBe(503);
    } finally {
      await broken.app.close();
      await brokenPool.end();
    }
  });

  it('serves the dashboard page, its assets and Chart.js from this server', async () => {
    const page = await api.get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('src="/assets/chart.js"');
    expect(html).not.toMatch(/<script>(?!<)/);
    expect(html).not.toMatch(/https?:\/\//);
    const chart = await api.get('/assets/chart.js');
    expect(chart.status).toBe(200);
    expect(chart.headers.get('content-type')).toMatch(/javascript/);
    expect(await chart.text()).toMatch(/Chart/);
    expect((await api.get('/assets/app.js')).status).toBe(200);
    expect((await api.get('/assets/app.css')).headers.get('content-type')).toMatch(/text\/css/);
  });
});
