import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';
import { insertLead, resetData } from '../../../support/fixtures.js';
import { linkLead, person, rowsOf } from '../../../support/gap.js';
import { addCandidate, resetReview, seedReviewCase } from '../../../support/review.js';

const db = await useTestDatabase();
beforeEach(async () => {
  await resetData(db.pool);
  await resetReview(db.pool);
});

const queue = (lead: string) =>
  rowsOf(db.pool, 'select * from ops.v_identity_review_queue where lead_id = $1 order by candidate_rank', [lead]);

describe('ops.v_identity_review_queue', () => {
  it('shows a lead\'s candidates ranked, with names, plates, masked phones, dates, parks and the fields compared', async () => {
    const c = await seedReviewCase(db.pool);
    const rows = await queue(c.lead);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      lead_id: c.lead, candidate_rank: 1, driver_id: c.unlinked, person_key: null, score: 82, match_rule: 'R3_PLATE_NAME',
      queue_reason: 'REVIEW_BAND', evidence: { fields: { plate: { level: 'exact', weight: 9.1 } } },
      lead_name: 'ROSA QUISPE MAMANI', driver_name: 'QUISPE MAMANI ROSA', lead_plate: 'ABC 123', driver_plate: 'ABC-123',
      lead_phone_masked: '******000', driver_phone_masked: '********001', lead_park: 'Park One', driver_park: 'park-1',
      phone_agrees: false, plate_agrees: true, name_similarity: '1.00', name_agrees: true, days_after_hire: 12, hire_date_agrees: true,
    });
    expect(rows[0]).toMatchObject({ lead_date: '2026-11-01', hire_date: '2026-10-20' });
    expect(rows[1]).toMatchObject({ candidate_rank: 2, driver_id: c.linked, person_key: c.personKey, plate_agrees: false, driver_park: 'park-2', hire_date_agrees: false, name_similarity: '0.75', name_agrees: true });
  });

  it('never shows a whole phone', async () => {
    const c = await seedReviewCase(db.pool);
    const text = JSON.stringify(await queue(c.lead));
    expect(text).not.toContain('987001000');
    expect(text).not.toContain('987001001');
  });

  it('leaves out a rejected pair and closes up the ranks', async () => {
    const c = await seedReviewCase(db.pool);
    await db.pool.query(`insert into ops.review_decisions (lead_id, driver_id, decision, reviewer) values ($1, $2, 'reject', 'ana')`, [c.lead, c.unlinked]);
    const rows = await queue(c.lead);
    expect(rows.map((r) => [r.candidate_rank, r.driver_id])).toEqual([[1, c.linked]]);
  });

  it('leaves out a lead linked since the run stored its candidates', async () => {
    const c = await seedReviewCase(db.pool);
    await linkLead(db.pool, c.lead, await person(db.pool));
    expect(await queue(c.lead)).toEqual([]);
  });

  it('leaves out candidates of a lead or a driver that no longer exists', async () => {
    const c = await seedReviewCase(db.pool);
    await addCandidate(db.pool, { lead: 'no-such-lead', rank: 1, driver: c.unlinked, score: 70 });
    const other = await insertLead(db.pool, { first_name: 'X' });
    await addCandidate(db.pool, { lead: other, rank: 1, driver: 'no-such-driver', score: 70 });
    expect(await rowsOf(db.pool, 'select distinct lead_id from ops.v_identity_review_queue')).toEqual([{ lead_id: c.lead }]);
  });

  it('is readable by neither idgap_reader nor idgap_api, and its counts are (ops.review_summary)', async () => {
    await seedReviewCase(db.pool);
    const client = await db.pool.connect();
    try {
      for (const role of ['idgap_reader', 'idgap_api']) {
        await client.query(`set role ${role}`);
        await expect(client.query('select * from ops.v_identity_review_queue')).rejects.toMatchObject({ code: '42501' });
        await expect(client.query('select * from ops.lead_candidates')).rejects.toMatchObject({ code: '42501' });
        await client.query('reset role');
      }
      await client.query('set role idgap_reader');
      expect((await client.query('select * from ops.review_summary()')).rows).toEqual([{ queue_leads: '1', queue_candidates: '2', accepted: '0', rejected: '0' }]);
      await expect(client.query('select * from ops.review_queue_page(1, 10)')).rejects.toMatchObject({ code: '42501' });
      await client.query('set role idgap_api');
      expect((await client.query('select count(*)::int as n from ops.review_queue_page(1, 10)')).rows).toEqual([{ n: 1 }]);
    } finally {
      await client.query('reset role');
      client.release();
    }
  });
});

describe('ops.review_queue_page', () => {
  it('groups a lead\'s candidates side by side, pages leads by lead_id and counts them all', async () => {
    const a = await seedReviewCase(db.pool, 'a');
    const b = await seedReviewCase(db.pool, 'b');
    const first = [a.lead, b.lead].sort()[0]!;
    const page1 = await rowsOf<{ total_leads: string; lead_id: string; item: any }>(db.pool, 'select * from ops.review_queue_page(1, 1)');
    expect(page1).toHaveLength(1);
    expect(page1[0]).toMatchObject({ total_leads: '2', lead_id: first });
    expect(page1[0]!.item).toMatchObject({
      lead_id: first, queue_reason: 'REVIEW_BAND',
      lead: { name: 'ROSA QUISPE MAMANI', plate: 'ABC 123', phone_masked: '******000', date: '2026-11-01', park: 'Park One' },
      candidates: [
        { candidate_rank: 1, score: 82, driver: { name: 'QUISPE MAMANI ROSA', plate: 'ABC-123', hire_date: '2026-10-20', park: 'park-1' },
          compared: { plate_agrees: true, phone_agrees: false, name_similarity: 1, name_agrees: true, days_after_hire: 12, hire_date_agrees: true } },
        { candidate_rank: 2, score: 55 },
      ],
    });
    const page2 = await rowsOf<{ lead_id: string }>(db.pool, 'select lead_id from ops.review_queue_page(2, 1)');
    expect(page2.map((r) => r.lead_id)).toEqual([[a.lead, b.lead].sort()[1]]);
    expect(await rowsOf(db.pool, 'select lead_id from ops.review_queue_page(3, 1)')).toEqual([]);
    expect(await rowsOf(db.pool, 'select lead_id from ops.review_queue_page(1, 10, $1)', [b.lead])).toEqual([{ lead_id: b.lead }]);
  });
});
