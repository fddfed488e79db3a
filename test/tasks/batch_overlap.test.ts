/**
 * Batches of one run share nothing another batch writes: ops.plan_recovery groups the due leads into components
 * (shared candidate driver, candidate drivers of one person, linked to the same person) and packs whole
 * components into batches. So two batches run at once on two connections without waiting for each other, and
 * there is no batch lock, re-check or undo left to test (replaced: the old tests forced a batch to decide again
 * under the lock after another batch committed).
 */
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recoveryParamsSchema, runRecovery } from '../../src/recovery.js';
import { poolClient, withRun } from '../../src/runs.js';
import { useTestDatabase } from '../support/db.js';
import { driverPerson, insertDriver, insertLead, jobOf, linkOf, refreshIndex, resetData } from '../support/fixtures.js';
import { expectInvariants } from '../support/invariants.js';
import { silentLog } from '../support/log.js';

const db = await useTestDatabase();

beforeEach(async () => {
  await resetData(db.pool);
});
afterEach(async () => {
  await expectInvariants(db.pool);
});

const personKey = '0190f0a0-0000-7000-8000-00000000a001';

/** Two leads on one unlinked driver; two leads on two drivers of one person; a lead linked to that person; one alone. */
async function world() {
  await insertDriver(db.pool, { driver_id: 'd1', phone: '51987100001', full_name: 'PAZ ORTIZ EVA' });
  await insertDriver(db.pool, { driver_id: 'd2', phone: '51987100002', full_name: 'RUIZ SOTO LUIS' });
  await insertDriver(db.pool, { driver_id: 'd3', phone: '51987100003', full_name: 'RUIZ SOTO LUIS' });
  await insertDriver(db.pool, { driver_id: 'd4', phone: '51987100004', full_name: 'LEON VEGA ANA' });
  await db.pool.query(`insert into canon.identity_registry (person_key, confidence_level) values ($1, 'HIGH')`, [personKey]);
  await db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
    values ($1, 'drivers', 'd2', 'MANUAL', 100, 'HIGH'), ($1, 'drivers', 'd3', 'MANUAL', 100, 'HIGH')`, [personKey]);
  const leads = {
    sharedA: await insertLead(db.pool, { park_phone: '987100001', lead_created_at: '2026-11-01 10:00' }),
    sharedB: await insertLead(db.pool, { park_phone: '987100001', lead_created_at: '2026-11-02 10:00' }),
    personA: await insertLead(db.pool, { park_phone: '987100002', lead_created_at: '2026-11-03 10:00' }),
    personB: await insertLead(db.pool, { park_phone: '987100003', lead_created_at: '2026-11-04 10:00' }),
    linked: await insertLead(db.pool, { park_phone: null, lead_created_at: '2026-11-05 10:00' }),
    alone: await insertLead(db.pool, { park_phone: '987100004', lead_created_at: '2026-11-06 10:00' }),
  };
  await db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
    values ($1, 'module_ct_cabinet_leads', $2, 'MANUAL', 100, 'HIGH')`, [personKey, leads.linked]);
  await refreshIndex(db.pool);
  return leads;
}

/** Opens a run on `client` with the recovery lock and plans it. */
async function planOn(client: pg.PoolClient, batchSize: number): Promise<number> {
  const runId = Number((await client.query(`select ops.start_run('retry_identity_matching', 'cli', '{}') as id`)).rows[0].id);
  await client.query('select pg_advisory_lock(ops.recovery_lock_key())');
  await client.query('select ops.plan_recovery($1, null, null, null, null, null, $2)', [runId, batchSize]);
  return runId;
}

describe('independent batches', () => {
  it('puts leads that share a driver, drivers of one person or a person into one component, and packs whole components', async () => {
    const leads = await world();
    const client = await db.pool.connect();
    try {
      const runId = await planOn(client, 1);
      const { rows } = await client.query<{ lead_id: string; component: number; batch_no: number; seq: number }>(
        'select lead_id, component, batch_no, seq from ops.recovery_queue where run_id = $1 order by seq', [runId]);
      const of = (lead: string) => rows.find((r) => r.lead_id === lead)!;
      expect(of(leads.sharedA).batch_no).toBe(of(leads.sharedB).batch_no);
      expect(of(leads.personA).batch_no).toBe(of(leads.personB).batch_no);
      expect(of(leads.personA).batch_no).toBe(of(leads.linked).batch_no);
      const batches = new Set(rows.map((r) => r.batch_no));
      expect(batches.size).toBe(3); // {sharedA, sharedB}, {personA, personB, linked}, {alone}: a component larger than the batch size is a batch of its own
      for (const b of batches) {
        const seqs = rows.filter((r) => r.batch_no === b).map((r) => r.seq);
        expect(Math.max(...seqs) - Math.min(...seqs) + 1).toBe(seqs.length); // a batch is a range of seq
      }
      const stats = (await client.query('select stats from ops.job_runs where id = $1', [runId])).rows[0].stats;
      expect(stats.plan).toMatchObject({ leads: 6, components: 3, largest_component: 3, batches: 3, component_sizes: { '1': 1, '2': 1, '3-5': 1, '6-10': 0 } });
      await client.query('select pg_advisory_unlock(ops.recovery_lock_key())');
      await client.query(`select ops.finish_run($1, 'succeeded')`, [runId]);
    } finally {
      client.release();
    }
  });

  it('packs components up to the batch size: 10 lone leads in batches of 5 are 2 batches of 5, a larger component a batch of its own', async () => {
    for (let i = 0; i < 10; i++) await insertLead(db.pool, { park_phone: `98710${String(i).padStart(4, '0')}`, lead_created_at: `2026-11-${String(i + 1).padStart(2, '0')} 10:00` });
    await insertDriver(db.pool, { driver_id: 'big', phone: '51987199999' });
    for (let i = 0; i < 7; i++) await insertLead(db.pool, { park_phone: '987199999', lead_created_at: `2026-11-${String(i + 12).padStart(2, '0')} 10:00` });
    await refreshIndex(db.pool);
    const client = await db.pool.connect();
    try {
      const runId = await planOn(client, 5);
      const sizes = (await client.query<{ n: number }>('select count(*)::int as n from ops.recovery_queue where run_id = $1 group by batch_no order by batch_no', [runId])).rows.map((r) => r.n);
      expect(sizes.sort()).toEqual([5, 5, 7]);
      await client.query('select pg_advisory_unlock(ops.recovery_lock_key())');
      await client.query(`select ops.finish_run($1, 'succeeded')`, [runId]);
    } finally {
      client.release();
    }
  });

  it('packs random components as the rule says (a reference in TypeScript), for batch sizes 1 to 50', async () => {
    /* 60 leads, one a day (so prio follows the insert order); 6 in 10 take the phone of one of 25 drivers (leads on one
       driver are one component), the others a phone of their own. */
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let d = 0; d < 25; d++) await insertDriver(db.pool, { driver_id: `p${d}`, phone: `519872000${String(d).padStart(2, '0')}` });
    const leads: { id: string; driver: number | null }[] = [];
    for (let i = 0; i < 60; i++) {
      const driver = rand() < 0.6 ? Math.floor(rand() * 25) : null;
      const phone = driver === null ? `9873000${String(i).padStart(2, '0')}` : `9872000${String(driver).padStart(2, '0')}`;
      const day = new Date(Date.UTC(2026, 7, 1 + i)).toISOString().slice(0, 10);
      leads.push({ id: await insertLead(db.pool, { park_phone: phone, lead_created_at: `${day} 10:00` }), driver });
    }
    await refreshIndex(db.pool);
    /* The components in the order of their first lead, each in lead order. */
    const components: string[][] = [];
    const ofDriver = new Map<number, string[]>();
    for (const lead of leads) {
      const shared = lead.driver === null ? undefined : ofDriver.get(lead.driver);
      if (shared) shared.push(lead.id);
      else {
        const component = [lead.id];
        components.push(component);
        if (lead.driver !== null) ofDriver.set(lead.driver, component);
      }
    }
    expect(components.some((c) => c.length >= 3)).toBe(true);
    for (const batchSize of [1, 2, 3, 5, 7, 50]) {
      /* The rule: a component of batchSize leads or more is a batch of its own; the others fill batches, a new one
         starting after such a component or where the count of packed leads before a component enters another
         multiple of batchSize than the count before the previous component. */
      const expected = new Map<string, { seq: number; batch: number }>();
      let batch = 0;
      let packed = 0;
      let seq = 0;
      let previous: { alone: boolean; bin: number } = { alone: true, bin: -1 };
      for (const component of components) {
        const alone = component.length >= batchSize;
        const bin = Math.floor(packed / batchSize);
        if (alone || previous.alone || bin !== previous.bin) batch += 1;
        for (const id of component) expected.set(id, { seq: ++seq, batch });
        if (!alone) packed += component.length;
        previous = { alone, bin };
      }
      const client = await db.pool.connect();
      try {
        const runId = await planOn(client, batchSize);
        const { rows } = await client.query<{ lead_id: string; seq: number; batch_no: number }>(
          'select lead_id, seq, batch_no from ops.recovery_queue where run_id = $1 order by seq', [runId]);
        expect(Object.fromEntries(rows.map((r) => [r.lead_id, { seq: r.seq, batch: r.batch_no }])), `batch size ${batchSize}`)
          .toEqual(Object.fromEntries(expected));
        await client.query('select pg_advisory_unlock(ops.recovery_lock_key())');
        await client.query(`select ops.finish_run($1, 'succeeded')`, [runId]);
      } finally {
        client.release();
      }
    }
  });

  it('carries each lead\'s normalised keys to the queue, whether the plan normalises every lead (half of them due or more) or only the due ones', async () => {
    const raw = [
      { park_phone: '+51 987-100-001', asset_plate_number: 'abc-123' },
      { park_phone: ' 0987100002 ', asset_plate_number: null },
      { park_phone: null, asset_plate_number: 'X 9 y 8' },
      { park_phone: '12', asset_plate_number: '--' },
      { park_phone: '51 (987) 100 005', asset_plate_number: 'AB1234' },
      { park_phone: '987100006', asset_plate_number: 'zz-001' },
      { park_phone: '0051987100007', asset_plate_number: null },
      { park_phone: null, asset_plate_number: null },
    ];
    for (const [i, lead] of raw.entries()) await insertLead(db.pool, { ...lead, lead_created_at: `2026-09-${String(i + 1).padStart(2, '0')} 10:00` });
    await db.pool.query('analyze public.module_ct_cabinet_leads');
    /* All 8 due: every lead's keys normalised before the join; a limit of 3 (3 x 2 < 8): the due leads' only, after it. */
    for (const limit of [null, 3]) {
      const client = await db.pool.connect();
      try {
        const runId = Number((await client.query(`select ops.start_run('retry_identity_matching', 'cli', '{}') as id`)).rows[0].id);
        await client.query('select pg_advisory_lock(ops.recovery_lock_key())');
        expect((await client.query('select ops.plan_recovery($1, $2, null, null, null, null, 5000) as n', [runId, limit])).rows[0].n).toBe(limit ?? raw.length);
        const { rows } = await client.query(
          `select queue.phone_norm, queue.plate_norm,
                  canon.norm_phone(leads.park_phone, ops.setting_text('default_country_code')) as phone_expected,
                  canon.norm_plate(leads.asset_plate_number) as plate_expected
           from ops.recovery_queue as queue
           join public.module_ct_cabinet_leads as leads on coalesce(leads.external_id, leads.id::text) = queue.lead_id
           where queue.run_id = $1`, [runId]);
        expect(rows).toHaveLength(limit ?? raw.length);
        for (const row of rows) expect([row.phone_norm, row.plate_norm]).toEqual([row.phone_expected, row.plate_expected]);
        expect(rows.filter((r) => r.phone_norm !== null).length).toBeGreaterThan(0);
        await client.query('select pg_advisory_unlock(ops.recovery_lock_key())');
        await client.query(`select ops.finish_run($1, 'succeeded')`, [runId]);
      } finally {
        client.release();
      }
    }
  });

  it('runs two batches of one run at once on two connections: nothing but the run\'s ledger row is shared', async () => {
    const leads = await world();
    const client = await db.pool.connect();
    const a = await db.pool.connect();
    const b = await db.pool.connect();
    try {
      const runId = await planOn(client, 1);
      const ranges = (await client.query(`select batch_no, min(seq)::int as f, max(seq)::int as t from ops.recovery_queue where run_id = $1 group by batch_no order by batch_no`, [runId])).rows;
      expect(ranges).toHaveLength(3);
      // Batch 1 written and not committed; batch 2 writes all it writes without waiting on anything batch 1 holds,
      // and waits only at its last statement, the run's counts (the ledger row both add to, until batch 1 commits).
      await a.query('begin');
      await a.query('select * from ops.process_identity_batch($1, $2, $3)', [runId, ranges[0].f, ranges[0].t]);
      await b.query('begin');
      await b.query(`set local lock_timeout = '1s'`);
      const waited = await b.query('select * from ops.process_identity_batch($1, $2, $3)', [runId, ranges[1].f, ranges[1].t]).then(() => null, (e: { code?: string; where?: string }) => e);
      expect(waited?.code).toBe("55P03");
      expect(waited?.where).toMatch(/^while updating tuple \(\d+,\d+\) in relation "job_runs"\nSQL statement "update ops\.job_runs[^]*?"\nPL\/pgSQL function ops\.batch_record_counts\(/);
      await b.query('rollback');
      await a.query('commit');
      await b.query('select * from ops.process_identity_batch($1, $2, $3)', [runId, ranges[1].f, ranges[1].t]);
      await client.query('select * from ops.process_identity_batch($1, $2, $3)', [runId, ranges[2].f, ranges[2].t]);
      await client.query('select pg_advisory_unlock(ops.recovery_lock_key())');
      await client.query(`select ops.finish_run($1, 'succeeded')`, [runId]);
    } finally {
      await a.query('rollback').catch(() => undefined);
      await b.query('rollback').catch(() => undefined);
      a.release();
      b.release();
      client.release();
    }
    // One person for d1 with both leads, its origin on the earliest; the person of d2/d3 gets its two leads and is repaired.
    const d1 = await driverPerson(db.pool, 'd1');
    expect((await linkOf(db.pool, leads.sharedA))!.person_key).toBe(d1);
    expect((await linkOf(db.pool, leads.sharedB))!.person_key).toBe(d1);
    expect((await linkOf(db.pool, leads.personA))!.person_key).toBe(personKey);
    expect((await linkOf(db.pool, leads.personB))!.person_key).toBe(personKey);
    expect(await jobOf(db.pool, leads.linked)).toMatchObject({ status: 'matched', match_rule: 'ORIGIN_REPAIR' });
    const origins = await db.pool.query('select person_key, origin_source_id from canon.identity_origin order by origin_source_id');
    expect(new Map(origins.rows.map((r) => [r.person_key, r.origin_source_id]))).toEqual(new Map([
      [d1, leads.sharedA], [personKey, leads.personA], [await driverPerson(db.pool, 'd4'), leads.alone]]));
  });

  it('a run on two lanes ends in the state of a run on one', async () => {
    const leads = await world();
    const state = async () => (await db.pool.query(
      `select links.source_pk, coalesce((select min(d.source_pk) from canon.identity_links as d where d.source_table = 'drivers' and d.person_key = links.person_key), links.person_key::text) as person,
              jobs.status, jobs.match_rule
         from canon.identity_links as links
         join ops.identity_matching_jobs as jobs on jobs.source_id = links.source_pk
        where links.source_table = 'module_ct_cabinet_leads' order by 1`)).rows;
    const recover = (lanes: number) => withRun(poolClient(db.pool), { task: 'retry_identity_matching', schema: recoveryParamsSchema, payload: { batch_size: 1 }, trigger: 'cli', log: silentLog() },
      async (params, { client, runId, log }) => {
        await runRecovery(client, runId, params, log, lanes > 1 ? { secondConnection: poolClient(db.pool), lanes } : {});
      });

    await recover(1);
    const one = await state();
    expect(one).toHaveLength(Object.keys(leads).length);
    await resetData(db.pool);
    await world();
    await recover(2);
    expect((await state()).map((r) => ({ ...r, source_pk: undefined }))).toEqual(one.map((r) => ({ ...r, source_pk: undefined })));
  });
});
