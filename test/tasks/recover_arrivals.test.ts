import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.js';
import { driverPerson, insertDriver, insertLead, jobOf, lastRun, linkOf, refreshIndex, resetData, runJob } from '../support/fixtures.js';
import { expectInvariants } from '../support/invariants.js';

const db = await useTestDatabase();

/* The work lists are filled by the triggers of the arrival branch; here by plain inserts, as the contract allows. */
const leadArrived = (leadId: string) => db.pool.query('insert into ops.lead_changes (lead_id) values ($1)', [leadId]);
const driverChanged = (driverId: string, change: 'insert' | 'update' | 'delete' = 'insert') =>
  db.pool.query('insert into ops.driver_changes (driver_id, change) values ($1, $2)', [driverId, change]);
const recoverArrivals = async () => {
  await runJob(db.url, db.pool, 'recover_arrivals', {});
  const run = await lastRun(db.pool, 'recover_arrivals');
  expect(run.error).toBeNull();
  expect(run.state).toBe('succeeded');
  return run;
};
const recoverAll = async () => {
  await runJob(db.url, db.pool, 'retry_identity_matching', {});
  expect((await lastRun(db.pool, 'retry_identity_matching')).state).toBe('succeeded');
};
const attempts = async () => {
  const { rows } = await db.pool.query<{ source_id: string; attempt_count: number; status: string }>(
    'select source_id, attempt_count, status from ops.identity_matching_jobs order by source_id');
  return new Map(rows.map((r) => [r.source_id, r.attempt_count]));
};

beforeEach(async () => {
  await resetData(db.pool);
  await db.pool.query('truncate ops.lead_changes, ops.driver_changes restart identity');
});

describe('recover_arrivals', () => {
  it('links a new lead inserted with a matching indexed driver, and takes its work-list row', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321', full_name: 'QUISPE MAMANI ROSA' });
    await refreshIndex(db.pool);
    const lead = await insertLead(db.pool, { park_phone: '987654321', first_name: 'Rosa', last_name: 'Quispe' });
    await leadArrived(lead);
    const run = await recoverArrivals();
    expect((await linkOf(db.pool, lead))?.person_key).toBe(await driverPerson(db.pool, 'd1'));
    expect(run).toMatchObject({ processed: 1, matched: 1 });
    expect(run.stats).toMatchObject({ leads_taken: 1, drivers_taken: 0, planned: 1 });
    const { rows } = await db.pool.query('select run_id, taken_at from ops.lead_changes');
    expect(rows[0].run_id).toBe(run.id);
    expect(rows[0].taken_at).not.toBeNull();
    await expectInvariants(db.pool);
  });
});
