/**
 * The review queue end to end with the engine: a recovery run leaves two namesakes each one plate edit away in
 * ops.lead_candidates (MULTIPLE_CANDIDATES), the queue shows them, a reviewer decides, and later runs never undo it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.js';
import { driverPerson, insertDriver, insertLead, jobOf, linkOf, refreshIndex, resetData, runJob } from '../support/fixtures.js';
import { rowsOf } from '../support/gap.js';
import { expectInvariants } from '../support/invariants.js';
import { resetReview } from '../support/review.js';

const db = await useTestDatabase();
const recover = () => runJob(db.url, db.pool, 'retry_identity_matching', {});
const ROSA = { full_name: 'QUISPE MAMANI ROSA', hire_date: '2026-10-20' };

beforeEach(async () => {
  await resetData(db.pool);
  await resetReview(db.pool);
});
afterEach(async () => expectInvariants(db.pool));

/** Two drivers of the same name on plates one edit from the lead's: the engine links neither and stores both. */
async function namesakes(): Promise<string> {
  await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC124', ...ROSA });
  await insertDriver(db.pool, { driver_id: 'd2', car_number: 'ABC125', ...ROSA });
  const lead = await insertLead(db.pool, { asset_plate_number: 'ABC123', first_name: 'Rosa', last_name: 'Quispe Mamani' });
  await refreshIndex(db.pool);
  await recover();
  return lead;
}

describe('a recovery run, the review queue and a decision', () => {
  it('shows what the run stored; an accept links the chosen namesake and two later runs change nothing', async () => {
    const lead = await namesakes();
    const queue = await rowsOf(db.pool, 'select candidate_rank, driver_id, queue_reason, plate_agrees, name_agrees, evidence from ops.v_identity_review_queue where lead_id = $1 order by candidate_rank', [lead]);
    expect(queue.map((r) => [r.candidate_rank, r.driver_id, r.queue_reason, r.plate_agrees, r.name_agrees])).toEqual([
      [1, 'd1', 'MULTIPLE_CANDIDATES', false, true], [2, 'd2', 'MULTIPLE_CANDIDATES', false, true]]);
    expect(JSON.stringify(queue[0]!.evidence)).toMatch(/one_edit/);

    const decided = (await db.pool.query(`select * from ops.review_decide($1, 'd2', 'accept', 'ana', 'the hire papers say ABC125')`, [lead])).rows[0];
    expect(decided).toMatchObject({ person_created: true, job_status: 'matched', origin_source_id: lead });
    const links = await rowsOf(db.pool, 'select id, person_key, source_table, source_pk, match_rule from canon.identity_links order by id');
    await recover();
    await recover();
    expect(await rowsOf(db.pool, 'select id, person_key, source_table, source_pk, match_rule from canon.identity_links order by id')).toEqual(links);
    expect(await linkOf(db.pool, lead)).toMatchObject({ person_key: decided.person_key, match_rule: 'MANUAL_REVIEW' });
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'matched', match_rule: 'MANUAL_REVIEW' });
    expect(await driverPerson(db.pool, 'd1')).toBeUndefined();
    expect(await rowsOf(db.pool, 'select * from ops.v_identity_review_queue')).toEqual([]);
    expect(await rowsOf(db.pool, 'select * from ops.lead_candidates')).toEqual([]);
  });

  it('a rejected namesake is never linked nor proposed again by later runs', async () => {
    const lead = await namesakes();
    await db.pool.query(`select * from ops.review_decide($1, 'd1', 'reject', 'ana', null)`, [lead]);
    await recover();
    await recover();
    expect(await driverPerson(db.pool, 'd1')).toBeUndefined();
    expect((await linkOf(db.pool, lead))?.evidence.driver_id).not.toBe('d1');
    expect(await rowsOf(db.pool, `select * from ops.lead_candidates where driver_id = 'd1'`)).toEqual([]);
    expect(await rowsOf(db.pool, `select * from ops.v_identity_review_queue where driver_id = 'd1'`)).toEqual([]);
  });
});
