import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { insertMatchingJob, leadAged, linkLead, person, resolvedLead, rowsOf } from '../../../support/gap.js';

interface IntegrityRow { check: string; violations: number; status: string; list_query: string }

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

const integrity = () => rowsOf<IntegrityRow>(db.pool, 'select * from ops.v_diag_integrity order by check_order');
const violations = async () => Object.fromEntries((await integrity()).map((r) => [r.check, r.violations]));

describe('ops.v_diag_integrity', () => {
  it('is clean (all ok) on a consistent state', async () => {
    const { leadId, personKey } = await resolvedLead(db.pool, 3);
    await insertMatchingJob(db.pool, { leadId, status: 'matched', personKey });
    const rows = await integrity();
    expect(rows.map((r) => r.check)).toEqual(['matched_without_link', 'resolved_without_origin', 'duplicate_links', 'person_without_lead']);
    expect(rows.every((r) => r.violations === 0 && r.status === 'ok')).toBe(true);
  });

  it('counts a matched job without a link', async () => {
    await insertMatchingJob(db.pool, { leadId: await leadAged(db.pool, 3), status: 'matched', personKey: (await resolvedLead(db.pool, 3)).personKey });
    expect(await violations()).toMatchObject({ matched_without_link: 1, resolved_without_origin: 0 });
  });

  it('counts a person recovery matched that has no origin', async () => {
    const leadId = await leadAged(db.pool, 3);
    const p = await person(db.pool);
    await linkLead(db.pool, leadId, p);
    await insertMatchingJob(db.pool, { leadId, status: 'matched', personKey: p });
    const rows = await integrity();
    expect(rows.find((r) => r.check === 'resolved_without_origin')).toMatchObject({ violations: 1, status: 'fail' });
  });

  it('counts a person without any lead', async () => {
    await person(db.pool);
    expect(await violations()).toMatchObject({ person_without_lead: 1 });
  });

  it('gives list queries that run and return the violating rows', async () => {
    await insertMatchingJob(db.pool, { leadId: await leadAged(db.pool, 3), status: 'matched', personKey: (await resolvedLead(db.pool, 3)).personKey });
    await person(db.pool);
    for (const row of await integrity()) {
      const { rowCount } = await db.pool.query(row.list_query);
      expect(rowCount, row.check).toBe(row.violations);
    }
  });
});
