import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { useTestDatabase } from '../support/db.js';
import { linkOf } from '../support/fixtures.js';
import { rowsOf } from '../support/gap.js';
import { silentLog } from '../support/log.js';
import { startTestApi, TEST_TOKEN, type TestApi } from '../support/api.js';
import { seedReviewCase, type ReviewCase } from '../support/review.js';
import { PROJECT_ROOT } from '../../src/paths.js';

/*
 * The Review page in a real headless Chromium (the system's /usr/bin/chromium, as test/e2e/dashboard.test.ts):
 * sign in with the token and a name, compare a lead's candidates side by side, accept one candidate and reject
 * another, and find the decisions in the database. The screenshot docs/screenshots/review.png is a copy of
 * test/artifacts/review.png from this test.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(PROJECT_ROOT, 'test', 'artifacts');

const db = await useTestDatabase();
let api: TestApi;
let browser: Browser;
let a: ReviewCase;
let b: ReviewCase;

beforeAll(async () => {
  silentLog();
  a = await seedReviewCase(db.pool, 'a');
  b = await seedReviewCase(db.pool, 'b');
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

async function openReview(context: BrowserContext): Promise<{ page: Page; problems: string[]; offsite: string[] }> {
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
  await page.goto(`${api.base}/review`);
  await page.waitForSelector('body[data-loaded="1"]', { timeout: 20_000 });
  return { page, problems, offsite };
}

describe('the Review page', () => {
  it('asks for the token and a name, shows candidates side by side, accepts one and rejects another', async () => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    const { page, problems, offsite } = await openReview(context);
    await expect(page.getByTestId('review-login').isVisible()).resolves.toBe(true);

    await page.getByTestId('review-token').fill(TEST_TOKEN);
    await page.getByTestId('review-name').fill('Ana Reviewer');
    await page.getByTestId('review-start').click();
    await page.waitForSelector('[data-testid="review-compare"] tbody');
    expect(await page.getByTestId('review-count').textContent()).toBe('2 leads to review');
    expect(await page.getByTestId('review-who').textContent()).toBe('reviewer: Ana Reviewer');
    expect(await page.evaluate(() => [sessionStorage.getItem('idgap.review.token'), sessionStorage.getItem('idgap.review.reviewer')]))
      .toEqual([TEST_TOKEN, 'Ana Reviewer']);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);

    // Lead a, side by side: the plate agrees with candidate 1 and not with candidate 2; the phone agrees with neither.
    await page.getByTestId(`lead-${a.lead}`).click();
    await page.waitForSelector(`[data-testid="review-title"]:has-text("${a.lead}")`);
    const cells = await page.$$eval('#review-compare tbody tr', (rows) =>
      rows.map((r) => [...r.children].map((c) => (c as HTMLElement).dataset.agrees ?? (c.textContent ?? '').trim())));
    const byLabel = Object.fromEntries(cells.map((r) => [r[0], r.slice(1)]));
    expect(byLabel.plate).toEqual(['ABC 123', 'agree', 'disagree']);
    expect(byLabel.phone).toEqual(['******000', 'disagree', 'disagree']);
    expect(byLabel.name).toEqual(['ROSA QUISPE MAMANI', 'agree', 'agree']);
    expect(byLabel['lead date / hire date']).toEqual(['2026-11-01', 'agree', 'disagree']);
    expect(byLabel.evidence).toEqual(['', 'name: one_edit (3.2) · plate: exact (9.1) · total weight 12.3', 'name: one_edit (3.2) · plate: exact (9.1) · total weight 12.3']);
    expect(await page.locator('#review-compare').textContent()).not.toContain('987001000');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'review.png'), fullPage: true });

    await page.getByTestId('review-note').fill('same plate, name order differs');
    await page.getByTestId(`accept-${a.unlinked}`).click();
    await page.waitForSelector('[data-testid="review-message"]:has-text("Accepted")');
    expect(await page.getByTestId('review-count').textContent()).toBe('1 lead to review');

    await page.getByTestId(`lead-${b.lead}`).click();
    await page.getByTestId(`reject-${b.linked}`).click();
    await page.waitForSelector('[data-testid="review-message"]:has-text("Rejected")');
    await page.waitForSelector(`[data-testid="accept-${b.unlinked}"]`);
    expect(await page.locator(`[data-testid="accept-${b.linked}"]`).count()).toBe(0);

    expect(await linkOf(db.pool, a.lead)).toMatchObject({ match_rule: 'MANUAL_REVIEW', evidence: { review: { reviewer: 'Ana Reviewer', note: 'same plate, name order differs' } } });
    expect(await linkOf(db.pool, b.lead)).toBeUndefined();
    expect(await rowsOf(db.pool, 'select lead_id, driver_id, decision, reviewer from ops.review_decisions order by id')).toEqual([
      { lead_id: a.lead, driver_id: a.unlinked, decision: 'accept', reviewer: 'Ana Reviewer' },
      { lead_id: b.lead, driver_id: b.linked, decision: 'reject', reviewer: 'Ana Reviewer' },
    ]);
    expect(await rowsOf(db.pool, 'select lead_id, driver_id from ops.v_identity_review_queue')).toEqual([{ lead_id: b.lead, driver_id: b.unlinked }]);

    // The same tab keeps its session across a reload; a new browser session asks again.
    await page.reload();
    await page.waitForSelector('[data-testid="review-compare"] tbody');
    expect(await page.getByTestId('review-login').isHidden()).toBe(true);
    const fresh = await openReview(await browser.newContext());
    expect(await fresh.page.getByTestId('review-login').isVisible()).toBe(true);

    expect(problems).toEqual([]);
    expect(offsite).toEqual([]);
    await context.close();
  });

  it('sends a wrong token back to the sign-in form with a message', async () => {
    const context = await browser.newContext();
    const { page } = await openReview(context);
    await page.getByTestId('review-token').fill('not-the-token-at-all');
    await page.getByTestId('review-name').fill('Eve');
    await page.getByTestId('review-start').click();
    await page.waitForSelector('[data-testid="review-error"]:has-text("token was refused")');
    expect(await page.getByTestId('review-login').isVisible()).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem('idgap.review.token'))).toBeNull();
    await context.close();
  });
});
