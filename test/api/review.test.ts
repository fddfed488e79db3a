import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { useTestDatabase } from '../support/db.js';
import { linkOf, resetData } from '../support/fixtures.js';
import { rowsOf } from '../support/gap.js';
import { silentLog } from '../support/log.js';
import { startTestApi, TEST_TOKEN, type TestApi } from '../support/api.js';
import { resetReview, seedReviewCase } from '../support/review.js';

const db = await useTestDatabase();
let api: TestApi;

beforeAll(async () => {
  silentLog();
  api = await startTestApi(db.pool);
});
afterAll(async () => api?.app.close());
beforeEach(async () => {
  await resetData(db.pool);
  await resetReview(db.pool);
});

const QUEUE = '/api/v1/ops/identity-review';
const auth = { authorization: `Bearer ${TEST_TOKEN}` };
const json = (res: Response): Promise<any> => res.json();
const decide = (lead: string, body: unknown, token: string | null = TEST_TOKEN) =>
  api.post(`${QUEUE}/${encodeURIComponent(lead)}/decisions`, {
    token, body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' },
  });

describe('GET /api/v1/ops/identity-review', () => {
  it('needs the token: the queue carries personal data', async () => {
    await seedReviewCase(db.pool);
    expect((await api.get(QUEUE)).status).toBe(401);
    expect((await api.get(QUEUE, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const readOnly = await startTestApi(db.pool, {});
    try {
      expect((await readOnly.get(QUEUE, { headers: auth })).status).toBe(403);
    } finally {
      await readOnly.app.close();
    }
  });

  it('pages the leads with their candidates side by side and the meta of the whole queue', async () => {
    const a = await seedReviewCase(db.pool, 'a');
    const b = await seedReviewCase(db.pool, 'b');
    const res = await api.get(`${QUEUE}?page=2&page_size=1`, { headers: auth });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.meta).toEqual({ page: 2, page_size: 1, total_items: 2, total_pages: 2 });
    expect(body.items).toHaveLength(1);
    expect(body.items[0]).toMatchObject({
      lead_id: [a.lead, b.lead].sort()[1], queue_reason: 'REVIEW_BAND',
      lead: { name: 'ROSA QUISPE MAMANI', phone_masked: '******000' },
      candidates: [{ candidate_rank: 1, score: 82, compared: { plate_agrees: true } }, { candidate_rank: 2 }],
    });
    expect(JSON.stringify(body)).not.toContain('987001000');
    const past = await json(await api.get(`${QUEUE}?page=5&page_size=1`, { headers: auth }));
    expect(past).toEqual({ items: [], meta: { page: 5, page_size: 1, total_items: 2, total_pages: 2 } });
    const one = await json(await api.get(`${QUEUE}?lead_id=${a.lead}`, { headers: auth }));
    expect(one.items.map((i: { lead_id: string }) => i.lead_id)).toEqual([a.lead]);
  });

  it('refuses page_size outside 1-1000 and unknown parameters with 400 naming them', async () => {
    for (const [q, message] of [['page_size=0', /page_size: must be at least 1/], ['page_size=1001', /page_size: must be at most 1000/], ['color=red', /color: unknown parameter/]] as const) {
      const res = await api.get(`${QUEUE}?${q}`, { headers: auth });
      expect(res.status).toBe(400);
      expect((await json(res)).message).toMatch(message);
    }
  });
});

describe('POST /api/v1/ops/identity-review/{lead_id}/decisions', () => {
  it('needs the token', async () => {
    const c = await seedReviewCase(db.pool);
    expect((await decide(c.lead, { driver: c.unlinked, decision: 'accept', reviewer: 'ana' }, null)).status).toBe(401);
    expect(await rowsOf(db.pool, 'select * from ops.review_decisions')).toEqual([]);
  });

  it('accepts: 201 with the decision, the person and the link; the lead leaves the queue', async () => {
    const c = await seedReviewCase(db.pool);
    const res = await decide(c.lead, { driver: c.unlinked, decision: 'accept', reviewer: 'ana', note: 'same person' });
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body).toMatchObject({ decision: 'accept', lead_id: c.lead, driver_id: c.unlinked, person_created: true, job_status: 'matched' });
    expect(typeof body.decision_id).toBe('number');
    expect(await linkOf(db.pool, c.lead)).toMatchObject({ person_key: body.person_key, match_rule: 'MANUAL_REVIEW' });
    expect((await json(await api.get(QUEUE, { headers: auth }))).meta.total_items).toBe(0);
  });

  it('rejects: 201, and the pair is gone from the queue', async () => {
    const c = await seedReviewCase(db.pool);
    const res = await decide(c.lead, { driver: c.unlinked, decision: 'reject', reviewer: 'luis' });
    expect(res.status).toBe(201);
    const queue = await json(await api.get(QUEUE, { headers: auth }));
    expect(queue.items[0].candidates.map((x: { driver_id: string }) => x.driver_id)).toEqual([c.linked]);
  });

  it('answers 409 for a refused decision (a linked lead), 404 for an unknown driver or lead', async () => {
    const c = await seedReviewCase(db.pool);
    const linked = await decide(c.earlierLead, { driver: c.unlinked, decision: 'accept', reviewer: 'ana' });
    expect(linked.status).toBe(409);
    expect(await json(linked)).toMatchObject({ error: 'conflict', message: expect.stringMatching(/already linked.*never re-pointed/) });
    const driver = await decide(c.lead, { driver: 'nobody', decision: 'accept', reviewer: 'ana' });
    expect(driver.status).toBe(404);
    expect(await json(driver)).toMatchObject({ error: 'not_found', message: 'driver nobody does not exist' });
    expect((await decide('no-such-lead', { driver: c.unlinked, decision: 'reject', reviewer: 'ana' })).status).toBe(404);
    expect(await rowsOf(db.pool, 'select * from ops.review_decisions')).toEqual([]);
  });

  it('answers 409 with retry-after while a recovery run holds the lock', async () => {
    const c = await seedReviewCase(db.pool);
    await db.pool.query(`update ops.settings set value = '100' where key = 'review_lock_wait_ms'`);
    const holder = await db.pool.connect();
    try {
      await holder.query('select pg_advisory_lock(ops.recovery_lock_key())');
      const res = await decide(c.lead, { driver: c.unlinked, decision: 'accept', reviewer: 'ana' });
      expect(res.status).toBe(409);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await json(res)).toMatchObject({ error: 'recovery_running', message: 'a recovery run is in progress, try again' });
    } finally {
      await holder.query('select pg_advisory_unlock(ops.recovery_lock_key())');
      holder.release();
      await db.pool.query(`update ops.settings set value = '3000' where key = 'review_lock_wait_ms'`);
    }
  });

  it('validates the body with clear 400s and writes nothing', async () => {
    const c = await seedReviewCase(db.pool);
    const cases: Array<[unknown, RegExp]> = [
      [{ driver: c.unlinked, decision: 'maybe', reviewer: 'ana' }, /decision: must be accept or reject/],
      [{ driver: c.unlinked, decision: 'accept', reviewer: '  ' }, /reviewer: must name who decides/],
      [{ driver: c.unlinked, decision: 'accept' }, /reviewer: /],
      [{ decision: 'accept', reviewer: 'ana' }, /driver: /],
      [{ driver: c.unlinked, decision: 'accept', reviewer: 'ana', extra: 1 }, /extra: unknown parameter/],
      [{ driver: c.unlinked, decision: 'accept', reviewer: 'ana', note: 'x'.repeat(2001) }, /note: must be at most 2000 characters/],
      [[1, 2], /body: a JSON object/],
    ];
    for (const [body, message] of cases) {
      const res = await decide(c.lead, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect((await json(res)).message).toMatch(message);
    }
    const broken = await decide(c.lead, '{"driver": ');
    expect(broken.status).toBe(400);
    expect(await rowsOf(db.pool, 'select * from ops.review_decisions')).toEqual([]);
  });
});

describe('review metrics', () => {
  it('exports the queue\'s leads and the decisions by decision, counted from the table (they survive a restart)', async () => {
    const a = await seedReviewCase(db.pool, 'a');
    const b = await seedReviewCase(db.pool, 'b');
    await seedReviewCase(db.pool, 'c');
    await db.pool.query(`select ops.review_decide($1, $2, 'accept', 'ana', null)`, [a.lead, a.unlinked]);
    await db.pool.query(`select ops.review_decide($1, $2, 'reject', 'ana', null)`, [b.lead, b.unlinked]);
    const read = async (server: TestApi) => {
      const families = parsePrometheusTextFormat(await (await server.get('/metrics')).text());
      const f = (name: string) => families.find((x) => x.name === name)!;
      return {
        queue: f('idgap_review_queue_leads').metrics.map((m) => Number(m.value)),
        decisions: Object.fromEntries(f('idgap_review_decisions_total').metrics.map((m) => [m.labels!.decision, Number(m.value)])),
        type: f('idgap_review_decisions_total').type,
      };
    };
    expect(await read(api)).toEqual({ queue: [2], decisions: { accept: 1, reject: 1 }, type: 'COUNTER' });
    const restarted = await startTestApi(db.pool);
    try {
      expect(await read(restarted)).toEqual({ queue: [2], decisions: { accept: 1, reject: 1 }, type: 'COUNTER' });
    } finally {
      await restarted.app.close();
    }
  });
});
