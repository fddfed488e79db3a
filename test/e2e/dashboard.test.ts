import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { useTestDatabase } from '../support/db.js';
import { insertDriver, insertLead, refreshIndex, runJob } from '../support/fixtures.js';
import { silentLog } from '../support/log.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { PROJECT_ROOT } from '../../src/paths.js';

/*
 * The dashboard in a real headless Chromium (the system's /usr/bin/chromium:
 * `npm test` installs it with apt-get, scripts/provision-chromium.mjs; no browser is downloaded through npm).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(PROJECT_ROOT, 'test', 'artifacts');

const db = await useTestDatabase();
let api: TestApi;
let browser: Browser;

beforeAll(async () => {
  silentLog();
  for (let i = 0; i < 6; i++) {
    await insertDriver(db.pool, { driver_id: `d${i}`, phone: `5198765430${i}`, full_name: `DRIVER NUMBER ${i}` });
    await insertLead(db.pool, { park_phone: `98765430${i}`, lead_created_at: '2026-11-20 08:00:00' });
  }
  for (let i = 0; i < 9; i++) await insertLead(db.pool, { park_phone: `91234560${i}`, lead_created_at: `2026-10-0${i + 1} 08:00:00` });
  await insertLead(db.pool, { park_phone: null, asset_plate_number: null, lead_created_at: '2026-11-24 08:00:00' });
  await refreshIndex(db.pool);
  await runJob(db.url, db.pool, 'retry_identity_matching', {});
  // 30 days of history before today, with a gap shrinking over time.
  await db.pool.query(`insert into ops.identity_gap_daily (snapshot_date, total_leads, unresolved, resolved, pct_unresolved, no_identity, no_origin,
      inconsistent_origin, risk_high, risk_medium, risk_low, matched_in_day, runs_in_day)
    select current_date - n, 100, 40 + n, 60 - n, 40 + n, 30 + n, 6, 4, 10, 20, 10 + n, 5, 4
    from generate_series(1, 30) as n
    on conflict (snapshot_date) do nothing`);
  api = await startTestApi(db.pool);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  await api?.app.close();
});

async function openDashboard(
  viewport: { width: number; height: number },
  options: { timezoneId?: string; locale?: string } = {},
): Promise<{ page: Page; problems: string[]; offsite: string[] }> {
  const context = await browser.newContext({ viewport, ...options });
  const page = await context.newPage();
  const problems: string[] = [];
  const offsite: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(api.base) && !r.url().startsWith('data:')) offsite.push(r.url());
  });
  await page.goto(`${api.base}/`);
  await page.waitForSelector('body[data-loaded="1"]', { timeout: 20_000 });
  return { page, problems, offsite };
}

describe('dashboard', () => {
  it('shows the API numbers in the cards, draws the history chart, and logs no error', async () => {
    const { page, problems, offsite } = await openDashboard({ width: 1366, height: 900 });
    const gaps = await (await api.get('/api/v1/ops/identity-gaps?page_size=1')).json() as { totals: Record<string, number> };
    const freshness = await (await api.get('/api/v1/ops/identity-gaps/freshness')).json() as { matched_24h: number; status: string };
    expect(gaps.totals).toMatchObject({ total: 16, unresolved: 10, resolved: 6 });
    const text = (id: string) => page.getByTestId(id).textContent();
    const nf = new Intl.NumberFormat('en-US');
    expect(await text('card-total')).toBe(nf.format(gaps.totals.total!));
    expect(await text('card-unresolved')).toBe(nf.format(gaps.totals.unresolved!));
    expect(await text('card-pct-unresolved')).toBe(`${gaps.totals.pct_unresolved!.toFixed(2)} %`);
    expect(await text('card-high-risk')).toBe(nf.format(gaps.totals.high_risk!));
    expect(await text('card-matched-24h')).toBe(nf.format(freshness.matched_24h));
    expect(freshness.matched_24h).toBe(6);
    expect(await text('freshness-badge')).toBe('OK');

    // The chart: Chart.js holds the history, and the canvas has pixels drawn on it.
    const chart = await page.evaluate(() => {
      const c = (window as unknown as { idgapDashboard: { chart: { data: { labels: string[]; datasets: Array<{ data: number[] }> } } } }).idgapDashboard.chart;
      const canvas = document.getElementById('history-chart') as HTMLCanvasElement;
      const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let painted = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) painted += 1;
      return { labels: c.data.labels.length, pct: c.data.datasets[0]!.data, painted, width: canvas.width };
    });
    expect(chart.labels).toBe(31);
    expect(chart.pct[0]).toBe(70);
    expect(chart.width).toBeGreaterThan(300);
    expect(chart.painted).toBeGreaterThan(5000);

    expect(await page.getByTestId('health-rows').locator('tr').count()).toBe(7);
    expect(await page.getByTestId('run-rows').locator('tr').count()).toBeGreaterThanOrEqual(2);
    expect(await page.getByTestId('alert-rows').textContent()).toContain('over_7d_unresolved');
    expect(await page.getByTestId('fail-reason-rows').textContent()).toContain('NO_CANDIDATES');
    expect(await page.getByTestId('fail-reason-rows').textContent()).toContain('MISSING_KEYS');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-desktop.png'), fullPage: true });
    expect(problems).toEqual([]);
    expect(offsite).toEqual([]);
    await page.context().close();
  });

  it('fits a phone screen without horizontal scrolling of the page', async () => {
    const { page, problems } = await openDashboard({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    const cardsPerRow = await page.evaluate(() => {
      const tops = [...document.querySelectorAll('.card')].map((c) => c.getBoundingClientRect().top);
      return tops.filter((t) => t === tops[0]).length;
    });
    expect(cardsPerRow).toBe(2);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('lists the newest alerts first, with the total count', async () => {
    const { page, problems } = await openDashboard({ width: 1366, height: 900 });
    const all = (await (await api.get('/api/v1/ops/identity-gaps/alerts?page_size=100')).json()) as { items: Array<{ days_open: number }>; meta: { total_items: number } };
    expect(all.meta.total_items).toBe(20);
    const shown = await page.getByTestId('alert-rows').locator('tr').evaluateAll((rows) => rows.map((r) => Number(r.querySelectorAll('td')[3]!.textContent)));
    expect(shown).toHaveLength(10);
    expect(shown).toEqual([...shown].sort((a, b) => a - b));
    expect(shown[0]).toBe(Math.min(...all.items.map((a) => a.days_open)));
    expect(await page.getByTestId('alert-total').textContent()).toBe('10 newest of 20');
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('shows every time in one labelled format, UTC 24-hour, whatever the browser\'s time zone', async () => {
    const { page, problems } = await openDashboard({ width: 1366, height: 900 }, { timezoneId: 'America/Lima', locale: 'en-US' });
    const updated = (await page.getByTestId('updated-at').textContent())!;
    expect(updated).toMatch(/^updated \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
    expect(Math.abs(Date.parse(`${updated.slice(8, 27).replace(' ', 'T')}Z`) - Date.now())).toBeLessThan(120_000);
    const runs = (await (await api.get('/api/v1/ops/runs?limit=20')).json()) as { items: Array<{ started_at: string }> };
    const started = await page.getByTestId('run-rows').locator('tr').evaluateAll((rows) => rows.map((r) => r.querySelectorAll('td')[4]!.textContent));
    expect(started[0]).toBe(`${new Date(runs.items[0]!.started_at).toISOString().slice(0, 16).replace('T', ' ')} UTC`);
    const page_text = (await page.locator('body').textContent())!;
    expect(page_text).not.toMatch(/\b(AM|PM)\b/);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  // Last: these rewrite the history the tests above read.
  it('says so when there is less than two days of history for the chart', async () => {
    await db.pool.query('delete from ops.identity_gap_daily where snapshot_date < current_date');
    const { page: oneDay, problems } = await openDashboard({ width: 1366, height: 900 });
    await expect.poll(() => oneDay.getByTestId('history-empty').isVisible()).toBe(true);
    expect(await oneDay.getByTestId('history-empty').textContent()).toMatch(/^Only 1 day of history \(\d{4}-\d{2}-\d{2}\): the chart shows a trend from the second day on\.$/);
    await oneDay.context().close();
    await db.pool.query('delete from ops.identity_gap_daily');
    const { page: none } = await openDashboard({ width: 1366, height: 900 });
    expect(await none.getByTestId('history-empty').isVisible()).toBe(true);
    expect(await none.getByTestId('history-empty').textContent()).toMatch(/^No history yet/);
    expect(problems).toEqual([]);
    await none.context().close();
  });
});
