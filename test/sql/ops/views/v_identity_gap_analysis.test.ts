import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetData } from '../../../support/fixtures.js';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';
import { leadAged, linkDriver, linkLead, person, resolvedLead, rowsOf, setOrigin } from '../../../support/gap.js';

interface GapRow {
  lead_id: string;
  lead_date: string | null;
  person_key: string | null;
  has_identity: boolean;
  has_origin: boolean;
  is_repeat_lead: boolean;
  gap_reason: string;
  gap_age_days: number | null;
  risk_level: string;
  risk_rank: number;
  trips_14d: string;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => resetData(db.pool));

async function gap(leadId: string): Promise<GapRow> {
  const [row] = await rowsOf<GapRow>(db.pool, 'select * from ops.v_identity_gap_analysis where lead_id = $1', [leadId]);
  return row!;
}

async function noOriginLead(days: number | null): Promise<string> {
  const leadId = await leadAged(db.pool, days);
  await linkLead(db.pool, leadId, await person(db.pool));
  return leadId;
}

async function inconsistentLead(days: number | null): Promise<string> {
  const other = await resolvedLead(db.pool, 3);
  const leadId = await leadAged(db.pool, days);
  const p = await person(db.pool);
  await linkLead(db.pool, leadId, p);
  await setOrigin(db.pool, p, other.leadId);
  return leadId;
}

describe('ops.v_identity_gap_analysis gap_reason', () => {
  it('gives one row per lead', async () => {
    await leadAged(db.pool, 1);
    await resolvedLead(db.pool, 2);
    const [count] = await rowsOf<{ n: number }>(db.pool, 'select count(*)::int as n from ops.v_identity_gap_analysis');
    expect(count!.n).toBe(2);
  });

  it('says no_identity for a lead without a link', async () => {
    const row = await gap(await leadAged(db.pool, 3));
    expect(row).toMatchObject({ gap_reason: 'no_identity', has_identity: false, has_origin: false, person_key: null, is_repeat_lead: false });
  });

  it('says no_origin for a linked lead whose person has no origin', async () => {
    const row = await gap(await noOriginLead(3));
    expect(row).toMatchObject({ gap_reason: 'no_origin', has_identity: true, has_origin: false });
  });

  it('says no_origin when the person has an origin that is not a cabinet_lead one', async () => {
    const leadId = await leadAged(db.pool, 3);
    const p = await person(db.pool);
    await linkLead(db.pool, leadId, p);
    await setOrigin(db.pool, p, 'scout-42', 'scout_registration');
    expect((await gap(leadId)).gap_reason).toBe('no_origin');
  });

  it('says inconsistent_origin when the origin lead is linked to another person', async () => {
    const row = await gap(await inconsistentLead(3));
    expect(row).toMatchObject({ gap_reason: 'inconsistent_origin', has_identity: true, has_origin: true });
  });

  it('says inconsistent_origin when the origin lead is not linked at all', async () => {
    const unlinked = await leadAged(db.pool, 5);
    const leadId = await leadAged(db.pool, 3);
    const p = await person(db.pool);
    await linkLead(db.pool, leadId, p);
    await setOrigin(db.pool, p, unlinked);
    expect((await gap(leadId)).gap_reason).toBe('inconsistent_origin');
  });

  it('says resolved for a lead that is its person\'s origin, and not a repeat lead', async () => {
    const { leadId } = await resolvedLead(db.pool, 3);
    expect(await gap(leadId)).toMatchObject({ gap_reason: 'resolved', has_identity: true, has_origin: true, is_repeat_lead: false });
  });

  it('says resolved and is_repeat_lead for the later lead of a person whose origin is the earlier lead', async () => {
    const first = await resolvedLead(db.pool, 10);
    const repeat = await leadAged(db.pool, 2);
    await linkLead(db.pool, repeat, first.personKey);
    expect(await gap(repeat)).toMatchObject({ gap_reason: 'resolved', is_repeat_lead: true, person_key: first.personKey, risk_level: 'low' });
    expect((await gap(first.leadId)).is_repeat_lead).toBe(false);
  });

  it('keys a lead without external_id by its id', async () => {
    const { rows } = await db.pool.query<{ id: string }>(`insert into public.module_ct_cabinet_leads (external_id, lead_created_at) values (null, now()) returning id::text as id`);
    const row = await gap(rows[0]!.id);
    expect(row.gap_reason).toBe('no_identity');
  });
});

describe('ops.v_identity_gap_analysis risk_level and risk_rank', () => {
  const noIdentity: Array<[number | null, string, number]> = [
    [0, 'low', 1],
    [1, 'low', 1],
    [2, 'medium', 2],
    [6, 'medium', 2],
    [7, 'high', 3],
    [null, 'medium', 2],
  ];
  it.each(noIdentity)('rates a no_identity lead aged %s days as %s (rank %s)', async (days, level, rank) => {
    const row = await gap(await leadAged(db.pool, days));
    expect(row.gap_age_days).toBe(days);
    expect({ risk_level: row.risk_level, risk_rank: row.risk_rank }).toEqual({ risk_level: level, risk_rank: rank });
  });

  const noOrigin: Array<[number | null, string, number]> = [
    [0, 'low', 1],
    [1, 'low', 1],
    [2, 'medium', 2],
    [6, 'medium', 2],
    [7, 'medium', 2],
    [null, 'medium', 2],
  ];
  it.each(noOrigin)('rates a no_origin lead aged %s days as %s (rank %s), never high', async (days, level, rank) => {
    const row = await gap(await noOriginLead(days));
    expect(row.gap_reason).toBe('no_origin');
    expect({ risk_level: row.risk_level, risk_rank: row.risk_rank }).toEqual({ risk_level: level, risk_rank: rank });
  });

  it.each([0, 1, 2, 7, null])('rates an inconsistent_origin lead aged %s days as high (rank 3)', async (days) => {
    const row = await gap(await inconsistentLead(days));
    expect({ gap_reason: row.gap_reason, risk_level: row.risk_level, risk_rank: row.risk_rank }).toEqual({
      gap_reason: 'inconsistent_origin', risk_level: 'high', risk_rank: 3,
    });
  });

  it.each([0, 30, null])('rates a resolved lead aged %s days as low (rank 1)', async (days) => {
    const row = await gap((await resolvedLead(db.pool, days)).leadId);
    expect({ risk_level: row.risk_level, risk_rank: row.risk_rank }).toEqual({ risk_level: 'low', risk_rank: 1 });
  });

  it('gives the lead date as the date of lead_created_at and a null age when it is unknown', async () => {
    const row = await gap(await leadAged(db.pool, null));
    expect(row.lead_date).toBeNull();
    expect(row.gap_age_days).toBeNull();
  });
});

describe('ops.v_identity_gap_analysis trips_14d', () => {
  it('sums the completed orders of the person\'s drivers from lead_date to lead_date + 14, in both date formats', async () => {
    const { leadId, personKey } = await resolvedLead(db.pool, 20);
    await linkDriver(db.pool, 'drv-1', personKey);
    const { rows } = await db.pool.query<{ d: string }>(`select ((now() at time zone 'utc')::date - 20)::text as d`);
    const leadDate = rows[0]!.d;
    const ddmmyyyy = (offset: number) => `to_char('${leadDate}'::date + ${offset}, 'DD-MM-YYYY')`;
    const iso = (offset: number) => `to_char('${leadDate}'::date + ${offset}, 'YYYY-MM-DD')`;
    await db.pool.query(`insert into public.summary_daily (driver_id, date_file, count_orders_completed) values
      ('drv-1', ${ddmmyyyy(-1)}, 100),
      ('drv-1', ${ddmmyyyy(0)}, 3),
      ('drv-1', ${iso(7)}, 4),
      ('drv-1', ${ddmmyyyy(14)}, 5),
      ('drv-1', ${ddmmyyyy(15)}, 200),
      ('drv-1', 'not a date', 300),
      ('drv-other', ${ddmmyyyy(1)}, 400)`);
    expect(Number((await gap(leadId)).trips_14d)).toBe(12);
  });

  it('is 0 for a lead without identity', async () => {
    expect(Number((await gap(await leadAged(db.pool, 3))).trips_14d)).toBe(0);
  });
});
