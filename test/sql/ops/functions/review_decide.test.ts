/**
 * ops.review_decide: accept links through the recovery's own write steps (person, DRIVER_MATCH link, origin, job row),
 * reject keeps the pair apart for ever, refusals carry a SQLSTATE, the recovery lock is waited for a bounded time,
 * and later recovery runs never undo a decision.
 */
import pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';
import { driverPerson, insertLead, jobOf, linkOf, resetData, runJob } from '../../../support/fixtures.js';
import { expectInvariants } from '../../../support/invariants.js';
import { rowsOf } from '../../../support/gap.js';
import { resetReview, seedReviewCase } from '../../../support/review.js';

const db = await useTestDatabase();
beforeEach(async () => {
  await resetData(db.pool);
  await resetReview(db.pool);
});

const decide = async (lead: string, driver: string, decision: string, reviewer: string | null = 'ana', note: string | null = null) =>
  (await db.pool.query('select * from ops.review_decide($1, $2, $3, $4, $5)', [lead, driver, decision, reviewer, note])).rows[0];

const recover = () => runJob(db.url, db.pool, 'retry_identity_matching', {});

describe('accept', () => {
  it('creates the person of a driver that has none, with its DRIVER_MATCH link, and links the lead with MANUAL_REVIEW', async () => {
    const c = await seedReviewCase(db.pool);
    const r = await decide(c.lead, c.unlinked, 'accept', ' ana ', 'same plate, name reordered');
    expect(r).toMatchObject({ decision: 'accept', lead_id: c.lead, driver_id: c.unlinked, person_created: true, job_status: 'matched', origin_source_id: c.lead });
    const link = (await linkOf(db.pool, c.lead))!;
    expect(link).toMatchObject({ person_key: r.person_key, match_rule: 'MANUAL_REVIEW', match_score: 100, confidence_level: 'HIGH', run_id: null });
    expect(String((link as unknown as { id: string }).id)).toBe(String(r.link_id));
    expect(link.evidence).toMatchObject({
      rule: 'MANUAL_REVIEW', driver_id: c.unlinked,
      review: { decision_id: Number(r.decision_id), reviewer: 'ana', note: 'same plate, name reordered',
                shown: { in_queue: true, candidate_rank: 1, score: 82, match_rule: 'R3_PLATE_NAME', queue_reason: 'REVIEW_BAND' } },
    });
    expect(await driverPerson(db.pool, c.unlinked)).toBe(r.person_key);
    expect(await rowsOf(db.pool, `select match_rule, match_score, confidence_level, evidence->>'rule' as rule, evidence->'review'->>'reviewer' as reviewer
                                  from canon.identity_links where source_table = 'drivers' and source_pk = $1`, [c.unlinked]))
      .toEqual([{ match_rule: 'DRIVER_MATCH', match_score: 100, confidence_level: 'HIGH', rule: 'MANUAL_REVIEW', reviewer: 'ana' }]);
    expect(await rowsOf(db.pool, 'select confidence_level, primary_phone, primary_full_name from canon.identity_registry where person_key = $1', [r.person_key]))
      .toEqual([{ confidence_level: 'HIGH', primary_phone: '987001001', primary_full_name: 'QUISPE MAMANI ROSA' }]);
    expect(await rowsOf(db.pool, 'select origin_tag, origin_source_id, decided_by from canon.identity_origin where person_key = $1', [r.person_key]))
      .toEqual([{ origin_tag: 'cabinet_lead', origin_source_id: c.lead, decided_by: 'system' }]);
    expect(await jobOf(db.pool, c.lead)).toMatchObject({ status: 'matched', match_rule: 'MANUAL_REVIEW', matched_person_key: r.person_key, attempt_count: 1 });
    expect(await rowsOf(db.pool, 'select lead_id, driver_id, decision, reviewer, note, person_key, evidence->>\'score\' as score from ops.review_decisions'))
      .toEqual([{ lead_id: c.lead, driver_id: c.unlinked, decision: 'accept', reviewer: 'ana', note: 'same plate, name reordered', person_key: r.person_key, score: '82' }]);
    expect(await rowsOf(db.pool, 'select * from ops.lead_candidates where lead_id = $1', [c.lead])).toEqual([]);
    expect(await rowsOf(db.pool, 'select * from ops.v_identity_review_queue')).toEqual([]);
    await expectInvariants(db.pool);
  });

  it('links to the driver\'s existing person and keeps its earlier origin', async () => {
    const c = await seedReviewCase(db.pool);
    const r = await decide(c.lead, c.linked, 'accept');
    expect(r).toMatchObject({ person_key: c.personKey, person_created: false, origin_source_id: c.earlierLead, job_status: 'matched' });
    expect(await linkOf(db.pool, c.lead)).toMatchObject({ person_key: c.personKey, match_rule: 'MANUAL_REVIEW' });
    expect(await rowsOf(db.pool, `select count(*)::int as n from canon.identity_links where source_table = 'drivers'`)).toEqual([{ n: 1 }]);
    await expectInvariants(db.pool);
  });

  it('moves the person\'s origin to the accepted lead when that lead is earlier, with a history row', async () => {
    const c = await seedReviewCase(db.pool);
    const earliest = await insertLead(db.pool, { first_name: 'ROSA', last_name: 'QUISPE', lead_created_at: '2025-06-01 09:00:00' });
    const r = await decide(earliest, c.linked, 'accept');
    expect(r).toMatchObject({ person_key: c.personKey, origin_source_id: earliest });
    expect(await rowsOf(db.pool, 'select old_source_id, new_source_id, change_reason from canon.identity_origin_history where person_key = $1', [c.personKey]))
      .toEqual([{ old_source_id: c.earlierLead, new_source_id: earliest, change_reason: 'origin_corrected' }]);
    await expectInvariants(db.pool);
  });

  it('turns a failed job row into matched', async () => {
    const c = await seedReviewCase(db.pool);
    await db.pool.query(`insert into ops.identity_matching_jobs (source_table, source_id, status, attempt_count, fail_reason)
                         values ('module_ct_cabinet_leads', $1, 'failed', 5, 'WEAK_MATCH_ONLY')`, [c.lead]);
    await decide(c.lead, c.unlinked, 'accept');
    expect(await jobOf(db.pool, c.lead)).toMatchObject({ status: 'matched', match_rule: 'MANUAL_REVIEW', attempt_count: 6, fail_reason: null });
  });

  it('is never undone by later recovery runs: the link, the job row and the links stay as they are', async () => {
    const c = await seedReviewCase(db.pool);
    const r = await decide(c.lead, c.linked, 'accept');
    const before = await rowsOf(db.pool, 'select id, person_key, source_table, source_pk, match_rule from canon.identity_links order by id');
    await recover();
    await recover();
    expect(await rowsOf(db.pool, 'select id, person_key, source_table, source_pk, match_rule from canon.identity_links order by id')).toEqual(before);
    expect(await linkOf(db.pool, c.lead)).toMatchObject({ person_key: r.person_key, match_rule: 'MANUAL_REVIEW' });
    expect(await jobOf(db.pool, c.lead)).toMatchObject({ status: 'matched', match_rule: 'MANUAL_REVIEW' });
    await expectInvariants(db.pool);
  });
});

describe('reject', () => {
  it('records the decision with what the queue showed and drops the pair from the queue only', async () => {
    const c = await seedReviewCase(db.pool);
    const r = await decide(c.lead, c.unlinked, 'reject', 'luis', 'different person');
    expect(r).toMatchObject({ decision: 'reject', person_key: null, person_created: false, link_id: null });
    expect(await rowsOf(db.pool, `select decision, reviewer, note, evidence->>'candidate_rank' as shown_rank from ops.review_decisions`))
      .toEqual([{ decision: 'reject', reviewer: 'luis', note: 'different person', shown_rank: '1' }]);
    expect(await rowsOf(db.pool, 'select driver_id from ops.lead_candidates')).toEqual([{ driver_id: c.linked }]);
    expect(await rowsOf(db.pool, 'select candidate_rank, driver_id from ops.v_identity_review_queue')).toEqual([{ candidate_rank: 1, driver_id: c.linked }]);
    expect(await linkOf(db.pool, c.lead)).toBeUndefined();
  });

  it('keeps a pair the exact rules would link apart through later recovery runs, and out of the queue', async () => {
    const c = await seedReviewCase(db.pool);
    await decide(c.lead, c.unlinked, 'reject');
    await recover();
    await recover();
    // The rejected driver never gets the lead (no person is even created for it); another candidate may.
    expect(await driverPerson(db.pool, c.unlinked)).toBeUndefined();
    const link = await linkOf(db.pool, c.lead);
    expect(link?.evidence.driver_id).not.toBe(c.unlinked);
    expect(await rowsOf(db.pool, 'select * from ops.lead_candidates where driver_id = $1', [c.unlinked])).toEqual([]);
    expect(await rowsOf(db.pool, 'select driver_id from ops.v_identity_review_queue where driver_id = $1', [c.unlinked])).toEqual([]);
  });

  it('without the reject, the same recovery links that pair (the case above is a real one)', async () => {
    const c = await seedReviewCase(db.pool);
    await recover();
    expect(await linkOf(db.pool, c.lead)).toMatchObject({ match_rule: 'R3_PLATE_NAME' });
  });
});

describe('refusals', () => {
  const expectRefused = async (p: Promise<unknown>, code: string, message: RegExp) => {
    await expect(p).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
    expect(await rowsOf(db.pool, 'select * from ops.review_decisions')).toEqual([]);
  };

  it('refuses a lead that already has a link: links are never re-pointed', async () => {
    const c = await seedReviewCase(db.pool);
    await expectRefused(decide(c.earlierLead, c.unlinked, 'accept'), '55000', /already linked .*never re-pointed/);
    await expectRefused(decide(c.earlierLead, c.unlinked, 'reject'), '55000', /already linked/);
    expect(await linkOf(db.pool, c.earlierLead)).toMatchObject({ person_key: c.personKey, match_rule: 'MANUAL' });
  });

  it('refuses a second accept of the same lead', async () => {
    const c = await seedReviewCase(db.pool);
    await decide(c.lead, c.unlinked, 'accept');
    await expect(decide(c.lead, c.linked, 'accept')).rejects.toMatchObject({ code: '55000' });
    expect(await rowsOf(db.pool, 'select count(*)::int as n from ops.review_decisions')).toEqual([{ n: 1 }]);
  });

  it('lets one of two simultaneous accepts of a lead through and refuses the other', async () => {
    const c = await seedReviewCase(db.pool);
    const results = await Promise.allSettled([decide(c.lead, c.unlinked, 'accept', 'ana'), decide(c.lead, c.linked, 'accept', 'luis')]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: '55000' });
    expect(await rowsOf(db.pool, `select count(*)::int as n from canon.identity_links where source_table = 'module_ct_cabinet_leads' and source_pk = $1`, [c.lead]))
      .toEqual([{ n: 1 }]);
    expect(await rowsOf(db.pool, 'select count(*)::int as n from ops.review_decisions')).toEqual([{ n: 1 }]);
    await expectInvariants(db.pool);
  });

  it('refuses to accept a pair that was rejected', async () => {
    const c = await seedReviewCase(db.pool);
    await decide(c.lead, c.unlinked, 'reject');
    await expect(decide(c.lead, c.unlinked, 'accept')).rejects.toMatchObject({ code: '55000', message: expect.stringMatching(/rejected/) });
    expect(await linkOf(db.pool, c.lead)).toBeUndefined();
  });

  it('refuses an unknown lead or driver, a bad decision word, an empty reviewer', async () => {
    const c = await seedReviewCase(db.pool);
    await expectRefused(decide('no-such-lead', c.unlinked, 'accept'), 'P0002', /lead no-such-lead does not exist/);
    await expectRefused(decide(c.lead, 'no-such-driver', 'accept'), 'P0002', /driver no-such-driver does not exist/);
    await expectRefused(decide(c.lead, c.unlinked, 'maybe'), '22023', /decision must be accept or reject/);
    await expectRefused(decide(c.lead, c.unlinked, 'accept', '  '), '22023', /reviewer is required/);
    await expectRefused(decide(c.lead, c.unlinked, 'accept', null), '22023', /reviewer is required/);
    await expectRefused(decide(c.lead, c.unlinked, 'accept', 'ana', 'x'.repeat(2001)), '22023', /note: at most 2000/);
    expect(await linkOf(db.pool, c.lead)).toBeUndefined();
  });

  it('waits a bounded time for a running recovery\'s lock, then refuses with 55P03 and writes nothing', async () => {
    const c = await seedReviewCase(db.pool);
    await db.pool.query(`update ops.settings set value = '200' where key = 'review_lock_wait_ms'`);
    const run = new pg.Client({ connectionString: db.url });
    await run.connect();
    try {
      await run.query('select pg_advisory_lock(ops.recovery_lock_key())');
      await expectRefused(decide(c.lead, c.unlinked, 'accept'), '55P03', /a recovery run is in progress, try again/);
      expect(await linkOf(db.pool, c.lead)).toBeUndefined();
      await run.query('select pg_advisory_unlock(ops.recovery_lock_key())');
      expect(await decide(c.lead, c.unlinked, 'accept')).toMatchObject({ decision: 'accept' });
    } finally {
      await run.end();
      await db.pool.query(`update ops.settings set value = '3000' where key = 'review_lock_wait_ms'`);
    }
  });

  it('leaves the caller\'s lock_timeout as it was', async () => {
    const c = await seedReviewCase(db.pool);
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await client.query(`set local lock_timeout = '7s'`);
      await client.query('select * from ops.review_decide($1, $2, $3, $4, null)', [c.lead, c.unlinked, 'reject', 'ana']);
      expect((await client.query('show lock_timeout')).rows[0].lock_timeout).toBe('7s');
      await client.query('rollback');
    } finally {
      client.release();
    }
  });
});

describe('privileges', () => {
  it('lets idgap_api decide without any right on canon, and idgap_reader not at all', async () => {
    const c = await seedReviewCase(db.pool);
    const client = await db.pool.connect();
    try {
      await client.query('set role idgap_reader');
      await expect(client.query(`select * from ops.review_decide($1, $2, 'accept', 'ana', null)`, [c.lead, c.unlinked])).rejects.toMatchObject({ code: '42501' });
      await client.query('reset role');
      await client.query('set role idgap_api');
      await expect(client.query('select * from canon.identity_links')).rejects.toMatchObject({ code: '42501' });
      const r = (await client.query(`select * from ops.review_decide($1, $2, 'accept', 'ana', null)`, [c.lead, c.unlinked])).rows[0];
      expect(r).toMatchObject({ decision: 'accept', job_status: 'matched' });
    } finally {
      await client.query('reset role');
      client.release();
    }
    expect(await linkOf(db.pool, c.lead)).toMatchObject({ match_rule: 'MANUAL_REVIEW' });
  });
});
