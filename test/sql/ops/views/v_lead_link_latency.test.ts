import { beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase } from '../../../support/db.js';
import { linkLead, person, rowsOf } from '../../../support/gap.js';

const db = await useTestDatabase();

beforeEach(async () => {
  await resetData(db.pool);
  await db.pool.query('truncate ops.lead_changes, ops.lead_insert_ranges, ops.driver_changes');
});

/** A work-list row recorded `ago` before now, and (linkedAfter seconds later) the lead's link. */
async function arrived(leadId: string, recordedAgo: string, linkedAfterSeconds: number | null): Promise<void> {
  await db.pool.query(`insert into ops.lead_changes (lead_id, recorded_at) values ($1, now() - $2::interval)`, [leadId, recordedAgo]);
  if (linkedAfterSeconds === null) return;
  await linkLead(db.pool, leadId, await person(db.pool));
  await db.pool.query(
    `update canon.identity_links set linked_at = (select recorded_at from ops.lead_changes where lead_id = $1 order by id limit 1) + $2 * interval '1 second'
      where source_pk = $1`, [leadId, linkedAfterSeconds]);
}

describe('ops.v_lead_link_latency', () => {
  it('measures a linked lead from its first record to its link, and lists a lead without a link as waiting', async () => {
    await arrived('a', '10 minutes', 2.5);
    await db.pool.query(`insert into ops.lead_changes (lead_id, recorded_at) values ('a', now() - interval '5 minutes')`);
    await arrived('b', '10 minutes', null);
    const rows = await rowsOf<{ lead_id: string; state: string; latency_seconds: string | null }>(db.pool,
      'select lead_id, state, latency_seconds from ops.v_lead_link_latency order by lead_id');
    expect(rows).toEqual([
      { lead_id: 'a', state: 'linked', latency_seconds: '2.500' },
      { lead_id: 'b', state: 'waiting', latency_seconds: null },
    ]);
  });

  it('gives no latency to a lead linked before the work list recorded it (a key of a linked lead updated)', async () => {
    await linkLead(db.pool, 'c', await person(db.pool));
    await db.pool.query(`update canon.identity_links set linked_at = now() - interval '1 day' where source_pk = 'c'`);
    await db.pool.query(`insert into ops.lead_changes (lead_id) values ('c')`);
    const [row] = await rowsOf(db.pool, `select state, latency_seconds from ops.v_lead_link_latency where lead_id = 'c'`);
    expect(row).toEqual({ state: 'linked_before', latency_seconds: null });
  });
});

describe('ops.v_lead_link_latency_summary', () => {
  it('gives p50/p95/p99 of the leads recorded in the last hour and day, counting the waiting ones apart', async () => {
    for (let i = 1; i <= 100; i++) await arrived(`h${i}`, '30 minutes', i);
    await arrived('old', '5 hours', 1000);
    await arrived('w', '10 minutes', null);
    await arrived('ancient', '2 days', 1);
    const rows = await rowsOf<Record<string, string>>(db.pool, 'select * from ops.v_lead_link_latency_summary');
    expect(rows.map((r) => r.period)).toEqual(['1h', '1d']);
    expect(rows[0]).toMatchObject({ recorded: '101', linked: '100', waiting: '1', p50_seconds: '50.500', p95_seconds: '95.050', p99_seconds: '99.010', max_seconds: '100.000' });
    expect(rows[1]).toMatchObject({ recorded: '102', linked: '101', waiting: '1', max_seconds: '1000.000' });
  });

  it('has a row per period with null percentiles when nothing arrived', async () => {
    const rows = await rowsOf<Record<string, string | null>>(db.pool, 'select * from ops.v_lead_link_latency_summary');
    expect(rows).toEqual([
      { period: '1h', recorded: '0', linked: '0', waiting: '0', p50_seconds: null, p95_seconds: null, p99_seconds: null, max_seconds: null },
      { period: '1d', recorded: '0', linked: '0', waiting: '0', p50_seconds: null, p95_seconds: null, p99_seconds: null, max_seconds: null },
    ]);
  });
});
