import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';
import { insertDriver, insertLead, resetData } from '../../../support/fixtures.js';
import { insertMatchingJob } from '../../../support/gap.js';

const db = await useTestDatabase();
const full = async () => (await db.pool.query('select * from canon.refresh_drivers_index()')).rows[0];
const incremental = async (ids: string[]) => (await db.pool.query('select * from canon.refresh_drivers_index_of($1)', [ids])).rows[0];
const state = async () => (await db.pool.query('select * from canon.drivers_index_state')).rows[0];
/** The index's content, without the write times. */
const content = async () =>
  (await db.pool.query(`select driver_id, park_id, phone_norm, license_norm, plate_norm, name_norm, name_tokens, hire_date from canon.drivers_index order by driver_id`)).rows;

beforeEach(async () => resetData(db.pool));

/* 200 drivers of every shape the normalisers see; then inserts, updates of every key and deletes. */
async function drivers(): Promise<void> {
  await db.pool.query(`
    insert into public.drivers (driver_id, park_id, phone, car_number, car_normalized_number, license_number, license_normalized_number, full_name, first_name, middle_name, last_name, hire_date)
    select 'd' || n, 'park-' || (n % 3), case n % 4 when 0 then '+51 9' || lpad(n::text, 8, '0') when 1 then '9' || lpad(n::text, 8, '0') when 2 then null else '(0051) 9' || lpad(n::text, 8, '0') end,
           case when n % 5 = 0 then null else 'ab-' || n end, case when n % 7 = 0 then 'AB' || n else '' end,
           'q' || n, null,
           case when n % 2 = 0 then 'PÉREZ de la CRUZ, José ' || n else '  ' end, 'Ana', null, 'Núñez ' || n,
           case when n % 6 = 0 then null else date '2026-01-01' + n end
    from generate_series(1, 200) as n`);
}
async function changes(): Promise<string[]> {
  await db.pool.query(`
    insert into public.drivers (driver_id, park_id, phone, car_number, full_name)
    select 'new' || n, 'park-1', '51 98' || lpad(n::text, 7, '0'), 'zz-' || n, 'NUEVO ' || n from generate_series(1, 20) as n;
    update public.drivers set phone = '51 911 000 ' || lpad(substr(driver_id, 2), 3, '0') where driver_id in ('d1', 'd2', 'd3');
    update public.drivers set car_number = 'XY-9', car_normalized_number = '' where driver_id in ('d7', 'd14');
    update public.drivers set full_name = 'OTRO NOMBRE', hire_date = null where driver_id = 'd20';
    update public.drivers set park_id = 'park-9' where driver_id = 'd21';
    update public.drivers set full_name = full_name where driver_id = 'd22'; -- no change of content: not counted
    delete from public.drivers where driver_id in ('d30', 'd31');`);
  return ['new1', 'new2', 'new3', 'new4', 'new5', 'new6', 'new7', 'new8', 'new9', 'new10', 'new11', 'new12', 'new13', 'new14', 'new15', 'new16', 'new17', 'new18', 'new19', 'new20',
    'd1', 'd2', 'd3', 'd7', 'd14', 'd20', 'd21', 'd22', 'd30', 'd31', 'never-existed'];
}

describe('canon.refresh_drivers_index_of (the incremental refresh)', () => {
  it('leaves the index exactly as a full refresh would, and the full refresh then finds nothing left to change', async () => {
    await drivers();
    await full();
    const changed = await changes();
    const result = await incremental(changed);
    expect(result).toMatchObject({ inserted: '20', updated: '7', deleted: '2', content_changed: true });
    const incrementalContent = await content();
    const afterIncremental = await state();
    expect(Number(afterIncremental.row_count)).toBe(218);

    expect(await full()).toMatchObject({ inserted: '0', updated: '0', deleted: '0', total: '218', content_changed: false });
    expect(await content()).toEqual(incrementalContent);
    expect((await state()).content_changed_at).toEqual(afterIncremental.content_changed_at);

    /* And the same changes applied by a full refresh alone give the same rows. */
    await resetData(db.pool);
    await drivers();
    await full();
    await changes();
    await full();
    expect(await content()).toEqual(incrementalContent);
  });

  it('writes nothing, keeps the state clocks and re-opens nothing for drivers whose keys did not change', async () => {
    await drivers();
    await full();
    const before = await state();
    expect(await incremental(['d1', 'd2', 'missing'])).toMatchObject({ inserted: '0', updated: '0', deleted: '0', total: '200', content_changed: false, reopened: '0' });
    expect(await state()).toEqual(before);
  });

  it("moves content_changed_at and row_count but not last_refreshed_at (the full refresh's clock)", async () => {
    await drivers();
    await full();
    const before = await state();
    await db.pool.query(`insert into public.drivers (driver_id, phone) values ('x1', '51900000001')`);
    await db.pool.query(`delete from public.drivers where driver_id in ('d1', 'd2')`);
    await incremental(['x1', 'd1', 'd2']);
    const after = await state();
    expect(after.last_refreshed_at).toEqual(before.last_refreshed_at);
    expect(after.content_changed_at.getTime()).toBeGreaterThan(before.content_changed_at.getTime());
    expect(Number(after.row_count)).toBe(199);
  });

  it('builds the index of drivers never refreshed before', async () => {
    await insertDriver(db.pool, { driver_id: 'a', phone: '51987000001' });
    expect(await incremental(['a'])).toMatchObject({ inserted: '1', total: '1' });
    expect(await full()).toMatchObject({ inserted: '0', updated: '0', deleted: '0', content_changed: false });
  });
});

describe('targeted re-open', () => {
  const due = async (lead: string) =>
    (await db.pool.query<{ due: boolean }>(`select coalesce(next_attempt_at <= now(), status = 'pending') as due from ops.identity_matching_jobs where source_id = $1`, [lead])).rows[0]!.due;

  it("makes due the pending and failed leads meeting a changed driver's old or new phone or plate, exactly or one edit away (R4, R5), and no other", async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000001', car_number: 'OLD-1' });
    await full();
    const byOldPhone = await insertLead(db.pool, { park_phone: '987000001' });
    const byNewPhone = await insertLead(db.pool, { park_phone: '987000002' });
    const byOldPlate = await insertLead(db.pool, { asset_plate_number: 'old1' });
    const byNewPlate = await insertLead(db.pool, { asset_plate_number: 'NEW 1' });
    /* One digit from the new phone and one from the old (R5_PHONE_NEAR), and a plate one look-alike from the new (R4_PLATE_NEAR). */
    const byNearPhone = await insertLead(db.pool, { park_phone: '987000003' });
    const byNearPlate = await insertLead(db.pool, { asset_plate_number: 'NEWI' });
    /* Two edits or more from every key the driver had or has. */
    const unrelated = await insertLead(db.pool, { park_phone: '987123456', asset_plate_number: 'ZZZ9' });
    const failedUnrelated = await insertLead(db.pool, { park_phone: '987654321' });
    for (const lead of [byOldPhone, byNewPhone, byNearPhone, byNearPlate, unrelated]) await insertMatchingJob(db.pool, { leadId: lead, status: 'pending', failReason: 'NO_CANDIDATES', attempts: 2, nextAttemptHours: 4 });
    for (const lead of [byOldPlate, byNewPlate, failedUnrelated]) await insertMatchingJob(db.pool, { leadId: lead, status: 'failed', failReason: 'NO_CANDIDATES', attempts: 5 });
    const jobsBefore = (await db.pool.query('select * from ops.identity_matching_jobs order by source_id')).rows;

    await db.pool.query(`update public.drivers set phone = '51987000002', car_number = 'NEW-1' where driver_id = 'd1'`);
    expect(await incremental(['d1'])).toMatchObject({ updated: '1', reopened: '6' });

    for (const lead of [byOldPhone, byNewPhone, byOldPlate, byNewPlate, byNearPhone, byNearPlate]) expect(await due(lead), lead).toBe(true);
    expect(await due(unrelated)).toBe(false);
    expect(await due(failedUnrelated)).toBe(false);
    const jobsAfter = (await db.pool.query('select * from ops.identity_matching_jobs order by source_id')).rows;
    for (const [i, before] of jobsBefore.entries()) {
      const after = jobsAfter[i];
      /* Only next_attempt_at moves: status, attempt count and reason stay. */
      expect({ ...after, next_attempt_at: null }).toEqual({ ...before, next_attempt_at: null });
    }
  });

  /* The near keys meet waiting leads one of two ways (neighbour probes while the changed keys are few against the
     waiting leads, else a join of deletion variants): both must re-open exactly the leads a brute-force comparison
     of every waiting lead with every changed phone finds (equal, or one substitution or adjacent swap away). */
  async function reopenedWith(driverPhones: string[], leadPhones: string[]): Promise<{ path: string; reopened: string[]; expected: string[] }> {
    await full();
    await db.pool.query(
      `insert into public.module_ct_cabinet_leads (external_id, lead_created_at, park_phone)
       select 'L' || n, timestamptz '2026-11-01 10:00', phone from unnest($1::text[]) with ordinality as leads(phone, n)`, [leadPhones]);
    await db.pool.query(
      `insert into ops.identity_matching_jobs (source_id, status, fail_reason, attempt_count, last_attempt_at, next_attempt_at)
       select 'L' || n, 'pending', 'NO_CANDIDATES', 2, now() - interval '1 hour', now() + interval '4 hours'
       from generate_series(1, $1::integer) as n`, [leadPhones.length]);
    await db.pool.query(
      `insert into public.drivers (driver_id, park_id, phone)
       select 'D' || n, 'park-1', phone from unnest($1::text[]) with ordinality as drivers(phone, n)`, [driverPhones]);
    const client = await db.pool.connect();
    const notices: string[] = [];
    try {
      client.on('notice', (notice) => notices.push(notice.message ?? ''));
      await client.query('set client_min_messages = debug1');
      await client.query('select * from canon.refresh_drivers_index_of($1)', [driverPhones.map((_, i) => `D${i + 1}`)]);
    } finally {
      client.release();
    }
    const reopened = (await db.pool.query(`select source_id from ops.identity_matching_jobs where next_attempt_at <= now() order by 1`)).rows.map((r) => r.source_id);
    const expected = (await db.pool.query(
      `select distinct keys.lead_id
       from ops.lead_keys as keys
       join canon.drivers_index as drivers on drivers.driver_id like 'D%'
        and (keys.phone_norm = drivers.phone_norm or canon.one_edit(keys.phone_norm, drivers.phone_norm) is not null)
       order by 1`)).rows.map((r) => r.lead_id);
    const path = notices.find((message) => message.startsWith('ops.reopen_leads_for_changed_drivers: phone_norm by') && !message.includes('equality')) ?? '';
    return { path, reopened, expected };
  }

  it('re-opens the leads one phone edit away by neighbour probes when few keys changed, exactly as a brute-force comparison', async () => {
    const leads = Array.from({ length: 400 }, (_, i) => `9870${String(i + 1).padStart(5, '0')}`);
    const { path, reopened, expected } = await reopenedWith(['51987000123'], leads);
    expect(path).toMatch(/neighbour probes$/);
    /* 987000123 itself, 18 one-digit substitutions, 3 more in the hundreds and 2 adjacent swaps (213, 132). */
    expect(expected.length).toBeGreaterThan(20);
    expect(reopened).toEqual(expected);
  });

  it('re-opens the leads one phone edit away by joining deletion variants when many keys changed, exactly as a brute-force comparison', async () => {
    const drivers = Array.from({ length: 400 }, (_, i) => `51987${String((i + 1) * 7).padStart(5, '0')}`);
    /* One digit substituted, the last two swapped, the same phone, or unrelated (9879...: two digits or more from every driver). */
    const leads = Array.from({ length: 40 }, (_, i) => {
      const phone = drivers[i * 10]!.slice(2);
      const last = Number(phone.at(-1));
      if (i % 4 === 0) return phone.slice(0, -1) + String((last + 1) % 10);
      if (i % 4 === 1) return phone.at(-1) !== phone.at(-2) ? phone.slice(0, -2) + phone.at(-1) + phone.at(-2) : phone.slice(0, -1) + String((last + 3) % 10);
      if (i % 4 === 2) return phone;
      return `9879${String(i).padStart(5, '0')}`;
    });
    const { path, reopened, expected } = await reopenedWith(drivers, leads);
    expect(path).toMatch(/deletion variants$/);
    expect(expected.length).toBeGreaterThanOrEqual(30);
    expect(expected.length).toBeLessThan(40);
    expect(reopened).toEqual(expected);
  });

  it('hands a pending lead already due to the plan when a changed driver meets it (it waits for evidence too)', async () => {
    await full();
    const due = await insertLead(db.pool, { park_phone: '987000001' });
    await insertMatchingJob(db.pool, { leadId: due, status: 'pending', failReason: 'NO_CANDIDATES', attempts: 1, nextAttemptHours: -1 });
    await insertDriver(db.pool, { driver_id: 'late', phone: '51987000001' });
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      expect((await client.query(`select * from canon.refresh_drivers_index_of(array['late'])`)).rows[0]).toMatchObject({ reopened: '1' });
      expect((await client.query('select lead_id from pg_temp.reopened_leads')).rows.map((r) => r.lead_id)).toEqual([due]);
      await client.query('commit');
    } finally {
      client.release();
    }
  });

  it('re-opens no lead by a near key in a crowded region (its key shares a variant with more than 5 x near_max_pairs keys), but by an exact one', async () => {
    /* Drivers 987000100-987000199 but 987000150: the lead's 987000150 shares a variant with about 20 of them. */
    await db.pool.query(`insert into public.drivers (driver_id, park_id, phone) select 'block' || n, 'park-1', '51' || (987000100 + n)::text from generate_series(0, 99) as n where n <> 50`);
    await full();
    const crowded = await insertLead(db.pool, { park_phone: '987000150' });
    await insertMatchingJob(db.pool, { leadId: crowded, status: 'failed', failReason: 'NO_CANDIDATES', attempts: 5 });
    await db.pool.query(`update ops.settings set value = '3' where key = 'near_max_pairs'`);
    try {
      await db.pool.query(`insert into public.drivers (driver_id, park_id, phone) values ('near', 'park-1', '51987000159')`);
      expect(await incremental(['near'])).toMatchObject({ inserted: '1', reopened: '0' });
      await db.pool.query(`update ops.settings set value = '10' where key = 'near_max_pairs'`);
      await db.pool.query(`insert into public.drivers (driver_id, park_id, phone) values ('near2', 'park-1', '51987000158')`);
      expect(await incremental(['near2'])).toMatchObject({ inserted: '1', reopened: '1' });
      await db.pool.query(`update ops.identity_matching_jobs set next_attempt_at = null where source_id = $1`, [crowded]);
      await db.pool.query(`update ops.settings set value = '3' where key = 'near_max_pairs'`);
      await db.pool.query(`insert into public.drivers (driver_id, park_id, phone) values ('exact', 'park-1', '51987000150')`);
      expect(await incremental(['exact'])).toMatchObject({ inserted: '1', reopened: '1' });
    } finally {
      await db.pool.query(`update ops.settings set value = '10' where key = 'near_max_pairs'`);
    }
  });

  it('re-opens through the same path when the full refresh changes a driver', async () => {
    await full();
    const lead = await insertLead(db.pool, { park_phone: '987000001' });
    const other = await insertLead(db.pool, { park_phone: '987555555' });
    await insertMatchingJob(db.pool, { leadId: lead, status: 'failed', failReason: 'NO_CANDIDATES', attempts: 5 });
    await insertMatchingJob(db.pool, { leadId: other, status: 'failed', failReason: 'NO_CANDIDATES', attempts: 5 });
    await insertDriver(db.pool, { driver_id: 'late', phone: '51987000001' });
    await full();
    expect(await due(lead)).toBe(true);
    expect(await due(other)).toBe(false);
  });

  it('re-opens through the first build of an empty index the leads its drivers meet, and no other', async () => {
    const met = await insertLead(db.pool, { park_phone: '987000001' });
    const notMet = await insertLead(db.pool, { park_phone: '987222222' });
    await insertMatchingJob(db.pool, { leadId: met, status: 'failed', failReason: 'NO_CANDIDATES', attempts: 5 });
    await insertMatchingJob(db.pool, { leadId: notMet, status: 'failed', failReason: 'NO_CANDIDATES', attempts: 5 });
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000001' });
    await full();
    expect(await due(met)).toBe(true);
    expect(await due(notMet)).toBe(false);
  });

  it('re-opens by the blocking keys the rule catalogue names, and by no other key', async () => {
    await full();
    const byPlate = await insertLead(db.pool, { asset_plate_number: 'ABC1' });
    const byPhone = await insertLead(db.pool, { park_phone: '987000001' });
    for (const lead of [byPlate, byPhone]) await insertMatchingJob(db.pool, { leadId: lead, status: 'failed', failReason: 'NO_CANDIDATES', attempts: 5 });
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000001', car_number: 'ABC-1' });
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      /* Without the plate rules in the catalogue, a plate is no key that meets a lead. */
      await client.query(`delete from ops.match_rules where blocking_key = 'plate_norm'`);
      const { rows } = await client.query(`select * from canon.refresh_drivers_index_of(array['d1'])`);
      expect(rows[0]).toMatchObject({ inserted: '1', reopened: '1' });
      const reopened = await client.query(`select source_id from ops.identity_matching_jobs where next_attempt_at is not null`);
      expect(reopened.rows.map((r) => r.source_id)).toEqual([byPhone]);
    } finally {
      await client.query('rollback');
      client.release();
    }
  });
});

describe('ops.refresh_lead_keys', () => {
  const keys = async () => (await db.pool.query('select lead_id, phone_norm, plate_norm from ops.lead_keys order by lead_id')).rows;

  it('adds only the waiting leads it lacks (pending in backoff or due, failed); the full pass writes changed keys again and drops the leads that no longer wait', async () => {
    await db.pool.query('truncate ops.lead_keys');
    await insertLead(db.pool, { external_id: 'a-waits', park_phone: '987000001' });
    await insertLead(db.pool, { external_id: 'b-failed', asset_plate_number: 'ab-12' });
    await insertLead(db.pool, { external_id: 'c-due', park_phone: '987000003' });
    await insertLead(db.pool, { external_id: 'd-matched', park_phone: '987000004' });
    await insertMatchingJob(db.pool, { leadId: 'a-waits', status: 'pending', attempts: 1, nextAttemptHours: 1 });
    await insertMatchingJob(db.pool, { leadId: 'b-failed', status: 'failed', attempts: 5 });
    await insertMatchingJob(db.pool, { leadId: 'c-due', status: 'pending', attempts: 1, nextAttemptHours: -1 });
    await insertMatchingJob(db.pool, { leadId: 'd-matched', status: 'matched', attempts: 1 });
    expect((await db.pool.query('select ops.refresh_lead_keys(false) as n')).rows[0].n).toBe('3');
    expect(await keys()).toEqual([
      { lead_id: 'a-waits', phone_norm: '987000001', plate_norm: null },
      { lead_id: 'b-failed', phone_norm: null, plate_norm: 'AB12' },
      { lead_id: 'c-due', phone_norm: '987000003', plate_norm: null },
    ]);

    /* A key changed behind the work lists' back, and leads that stopped waiting (linked). */
    await db.pool.query(`update public.module_ct_cabinet_leads set park_phone = '987000009' where external_id = 'a-waits'`);
    await db.pool.query(`update ops.identity_matching_jobs set status = 'matched' where source_id in ('b-failed', 'c-due')`);
    expect((await db.pool.query('select ops.refresh_lead_keys(false) as n')).rows[0].n).toBe('0');
    expect((await db.pool.query('select ops.refresh_lead_keys(true) as n')).rows[0].n).toBe('1');
    expect(await keys()).toEqual([{ lead_id: 'a-waits', phone_norm: '987000009', plate_norm: null }]);
  });
});
