import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.js';
import { driverPerson, gapOf, insertDriver, insertLead, jobOf, lastRun, linkOf, refreshIndex, resetData, runJob } from '../support/fixtures.js';
import { expectInvariants } from '../support/invariants.js';
import { silentLog } from '../support/log.js';
import { processRange } from '../../src/recovery.js';

const db = await useTestDatabase();
const recover = async (payload: Record<string, unknown> = {}) => {
  await runJob(db.url, db.pool, 'retry_identity_matching', payload);
  const run = await lastRun(db.pool, 'retry_identity_matching');
  expect(run.error).toBeNull();
  expect(run.state).toBe('succeeded');
  return run;
};
const setSetting = (key: string, value: string | null) => db.pool.query('update ops.settings set value = $2 where key = $1', [key, value]);

beforeEach(async () => {
  await resetData(db.pool);
});
afterEach(async () => {
  await expectInvariants(db.pool);
  await setSetting('target_park_id', null);
});

describe('retry_identity_matching: rule R1 (phone)', () => {
  it('links a lead whose phone is unique among the drivers (R1, HIGH, 95) and creates the person with a driver link', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321', full_name: 'QUISPE MAMANI ROSA' });
    const lead = await insertLead(db.pool, { park_phone: '987654321', first_name: 'Rosa', last_name: 'Quispe' });
    await refreshIndex(db.pool);
    const run = await recover();
    const link = await linkOf(db.pool, lead);
    expect(link).toMatchObject({ match_rule: 'R1_PHONE_EXACT', match_score: 95, confidence_level: 'HIGH' });
    expect(link!.run_id).toBe(run.id);
    expect(link!.evidence).toMatchObject({ rule: 'R1_PHONE_EXACT', driver_id: 'd1', lead: { phone_norm: '987654321' } });
    expect(await driverPerson(db.pool, 'd1')).toBe(link!.person_key);
    const person = await db.pool.query('select confidence_level from canon.identity_registry where person_key = $1', [link!.person_key]);
    expect(person.rows[0].confidence_level).toBe('HIGH');
    const origin = await db.pool.query('select * from canon.identity_origin where person_key = $1', [link!.person_key]);
    expect(origin.rows[0]).toMatchObject({ origin_tag: 'cabinet_lead', origin_source_id: lead, decided_by: 'system', origin_confidence: 95 });
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'matched', match_rule: 'R1_PHONE_EXACT', attempt_count: 1, fail_reason: null });
    expect((await gapOf(db.pool, lead))!.gap_reason).toBe('resolved');
    expect(run).toMatchObject({ processed: 1, matched: 1, failed: 0, pending: 0, skipped: 0, trigger: 'sql' });
  });

  it.each([['+51 987 111 222'], ['(0051) 987111222'], ['987 111 222'], ['987-111-222'], ['0051987111222']])(
    'links a lead whose phone is written %s to a 51XXXXXXXXX driver',
    async (phone) => {
      await insertDriver(db.pool, { driver_id: 'd1', phone: '51987111222', full_name: 'LUNA TORRES ANA' });
      const lead = await insertLead(db.pool, { park_phone: phone });
      await refreshIndex(db.pool);
      await recover();
      expect((await linkOf(db.pool, lead))?.match_rule).toBe('R1_PHONE_EXACT');
      expect((await linkOf(db.pool, lead))?.person_key).toBe(await driverPerson(db.pool, 'd1'));
    },
  );

  it('does not link a phone shared by two persons in the target park (MULTIPLE_CANDIDATES)', async () => {
    await setSetting('target_park_id', 'park-1');
    await insertDriver(db.pool, { driver_id: 'd1', park_id: 'park-1', phone: '51987000001', full_name: 'ROJAS PAZ LUIS' });
    await insertDriver(db.pool, { driver_id: 'd2', park_id: 'park-1', phone: '987000001', full_name: 'VEGA SOTO MARIO' });
    const lead = await insertLead(db.pool, { park_phone: '987000001' });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toBeUndefined();
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'pending', fail_reason: 'MULTIPLE_CANDIDATES', attempt_count: 1 });
    expect(await driverPerson(db.pool, 'd1')).toBeUndefined();
    expect((await db.pool.query('select count(*)::int as n from canon.identity_registry')).rows[0].n).toBe(0);
  });

  it('links the target-park driver when the phone is also held by a driver of another park', async () => {
    await setSetting('target_park_id', 'park-1');
    await insertDriver(db.pool, { driver_id: 'd1', park_id: 'park-1', phone: '51987000002', full_name: 'ROJAS PAZ LUIS' });
    await insertDriver(db.pool, { driver_id: 'd2', park_id: 'park-9', phone: '51987000002', full_name: 'VEGA SOTO MARIO' });
    const lead = await insertLead(db.pool, { park_phone: '987000002' });
    await refreshIndex(db.pool);
    await recover();
    expect((await linkOf(db.pool, lead))?.person_key).toBe(await driverPerson(db.pool, 'd1'));
    expect(await driverPerson(db.pool, 'd2')).toBeUndefined();
  });

  it('links a phone found only in another park than the target park', async () => {
    await setSetting('target_park_id', 'park-1');
    await insertDriver(db.pool, { driver_id: 'd9', park_id: 'park-9', phone: '51987000003', full_name: 'ROJAS PAZ LUIS' });
    const lead = await insertLead(db.pool, { park_phone: '+51987000003' });
    await refreshIndex(db.pool);
    await recover();
    expect((await linkOf(db.pool, lead))?.match_rule).toBe('R1_PHONE_EXACT');
    expect((await linkOf(db.pool, lead))?.person_key).toBe(await driverPerson(db.pool, 'd9'));
  });

  it('links a phone shared by two drivers of the same person to that person, without a new person', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000004', full_name: 'ROJAS PAZ LUIS' });
    await insertDriver(db.pool, { driver_id: 'd2', phone: '51987000004', full_name: 'ROJAS PAZ LUIS' });
    const first = await insertLead(db.pool, { park_phone: '987000004', asset_plate_number: null, lead_created_at: '2026-10-01 09:00' });
    await refreshIndex(db.pool);
    // Make both drivers one person, as an earlier decision would have.
    await db.pool.query(`insert into canon.identity_registry (person_key, confidence_level) values ('0190f0a0-0000-7000-8000-000000000001', 'HIGH')`);
    await db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
      values ('0190f0a0-0000-7000-8000-000000000001', 'drivers', 'd1', 'MANUAL', 100, 'HIGH'), ('0190f0a0-0000-7000-8000-000000000001', 'drivers', 'd2', 'MANUAL', 100, 'HIGH')`);
    await recover();
    expect((await linkOf(db.pool, first))?.person_key).toBe('0190f0a0-0000-7000-8000-000000000001');
    expect((await db.pool.query('select count(*)::int as n from canon.identity_registry')).rows[0].n).toBe(1);
  });
});

describe('retry_identity_matching: plate rules', () => {
  it('links a plate whose driver name has the tokens reordered and accented (R3, MEDIUM, 85)', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC-123', full_name: 'PEREZ GOMEZ JOSE', hire_date: '2026-10-20' });
    const lead = await insertLead(db.pool, { asset_plate_number: 'abc 123', first_name: 'José', last_name: 'Pérez Gómez', lead_created_at: '2026-11-01 08:00' });
    await refreshIndex(db.pool);
    await recover();
    const link = await linkOf(db.pool, lead);
    expect(link).toMatchObject({ match_rule: 'R3_PLATE_NAME', match_score: 85, confidence_level: 'MEDIUM' });
    expect(link!.person_key).toBe(await driverPerson(db.pool, 'd1'));
    const person = await db.pool.query('select confidence_level from canon.identity_registry where person_key = $1', [link!.person_key]);
    expect(person.rows[0].confidence_level).toBe('MEDIUM');
  });

  it('accepts a given name and one surname against two surnames: similarity exactly 2/3 passes 0.66', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'A1B234', full_name: 'PEREZ GOMEZ JUAN', hire_date: null });
    const lead = await insertLead(db.pool, { asset_plate_number: 'A1B-234', first_name: 'Juan', last_name: 'Perez' });
    await refreshIndex(db.pool);
    await recover();
    expect((await linkOf(db.pool, lead))?.match_rule).toBe('R3_PLATE_NAME');
  });

  it('does not link a plate whose driver name is too different (WEAK_MATCH_ONLY)', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'XYZ-999', full_name: 'PEREZ GOMEZ JUAN', hire_date: '2026-10-20' });
    const lead = await insertLead(db.pool, { asset_plate_number: 'xyz999', first_name: 'Carla', last_name: 'Perez Ruiz' });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toBeUndefined();
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'pending', fail_reason: 'WEAK_MATCH_ONLY' });
  });

  it('does not link when two persons on one plate score within the margin (MULTIPLE_CANDIDATES)', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'DDD-111', full_name: 'RAMOS DIAZ PEDRO', hire_date: '2026-10-20' });
    // A namesake (father and son) on the same car: equal similarity, well within the margin.
    await insertDriver(db.pool, { driver_id: 'd2', car_number: 'DDD-111', full_name: 'PEDRO RAMOS DIAZ', hire_date: '2026-10-25' });
    const lead = await insertLead(db.pool, { asset_plate_number: 'DDD111', first_name: 'Pedro', last_name: 'Ramos Diaz' });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toBeUndefined();
    expect((await jobOf(db.pool, lead))?.fail_reason).toBe('MULTIPLE_CANDIDATES');
  });

  it('links the clearly best of two drivers on one plate when the other is outside the margin', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'DDD-222', full_name: 'RAMOS DIAZ PEDRO', hire_date: '2026-10-20' });
    await insertDriver(db.pool, { driver_id: 'd2', car_number: 'DDD-222', full_name: 'SOTO VARGAS LUISA', hire_date: '2026-10-25' });
    const lead = await insertLead(db.pool, { asset_plate_number: 'DDD222', first_name: 'Pedro', last_name: 'Ramos Diaz' });
    await refreshIndex(db.pool);
    await recover();
    expect((await linkOf(db.pool, lead))?.person_key).toBe(await driverPerson(db.pool, 'd1'));
  });

  it('uses R3B when the only driver on the plate was hired outside the window, scoring round(similarity*100)', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'OLD-001', full_name: 'CHAVEZ LEON MARCO', hire_date: '2025-01-10' });
    const lead = await insertLead(db.pool, { asset_plate_number: 'old-001', first_name: 'Marco', last_name: 'Chavez', lead_created_at: '2026-11-01 10:00' });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toMatchObject({ match_rule: 'R3B_PLATE_NAME_ANY_DATE', match_score: 67, confidence_level: 'MEDIUM' });
  });

  it('does not fall back to R3B when a driver on the plate is inside the window, even with a weak name', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'WIN-001', full_name: 'NUNEZ ROSA', hire_date: '2026-10-30' });
    await insertDriver(db.pool, { driver_id: 'd2', car_number: 'WIN-001', full_name: 'CHAVEZ LEON MARCO', hire_date: '2024-01-01' });
    const lead = await insertLead(db.pool, { asset_plate_number: 'WIN001', first_name: 'Marco', last_name: 'Chavez Leon', lead_created_at: '2026-11-01 10:00' });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toBeUndefined();
    expect((await jobOf(db.pool, lead))?.fail_reason).toBe('WEAK_MATCH_ONLY');
  });

  it('applies the hire-date window bounds -90 and +30 days inclusively', async () => {
    await insertDriver(db.pool, { driver_id: 'early', car_number: 'EDG-001', full_name: 'ALVA RIOS NORA', hire_date: '2026-08-03' });
    await insertDriver(db.pool, { driver_id: 'late', car_number: 'EDG-002', full_name: 'ALVA RIOS NORA', hire_date: '2026-12-01' });
    const a = await insertLead(db.pool, { asset_plate_number: 'EDG001', first_name: 'Nora', last_name: 'Alva Rios', lead_created_at: '2026-11-01 10:00' });
    const b = await insertLead(db.pool, { asset_plate_number: 'EDG002', first_name: 'Nora', last_name: 'Alva Rios', lead_created_at: '2026-11-01 10:00' });
    await refreshIndex(db.pool);
    await recover();
    expect((await linkOf(db.pool, a))?.match_rule).toBe('R3_PLATE_NAME');
    expect((await linkOf(db.pool, b))?.match_rule).toBe('R3_PLATE_NAME');
  });
});

describe('retry_identity_matching: combining rules', () => {
  it('does not link when R1 and R3 name different persons (MULTIPLE_CANDIDATES)', async () => {
    await insertDriver(db.pool, { driver_id: 'phone-driver', phone: '51987000010', full_name: 'LOPEZ CANO IVAN' });
    await insertDriver(db.pool, { driver_id: 'plate-driver', car_number: 'MIX-010', full_name: 'LOPEZ CANO IVAN', hire_date: '2026-10-15' });
    const lead = await insertLead(db.pool, { park_phone: '987000010', asset_plate_number: 'MIX010', first_name: 'Ivan', last_name: 'Lopez Cano' });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toBeUndefined();
    expect((await jobOf(db.pool, lead))?.fail_reason).toBe('MULTIPLE_CANDIDATES');
  });

  it('links once, recording R1, when R1 and R3 name the same person', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000011', car_number: 'SAM-011', full_name: 'LOPEZ CANO IVAN', hire_date: '2026-10-15' });
    const lead = await insertLead(db.pool, { park_phone: '987000011', asset_plate_number: 'SAM011', first_name: 'Ivan', last_name: 'Lopez' });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toMatchObject({ match_rule: 'R1_PHONE_EXACT', match_score: 95 });
    expect((await db.pool.query(`select count(*)::int as n from canon.identity_links where source_table = 'module_ct_cabinet_leads'`)).rows[0].n).toBe(1);
  });

  it('links through an ambiguous plate rule when the phone names one of its candidates', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000012', car_number: 'AMB-012', full_name: 'RAMOS DIAZ PEDRO', hire_date: '2026-10-20' });
    await insertDriver(db.pool, { driver_id: 'd2', car_number: 'AMB-012', full_name: 'RAMOS DIAZ PEDRO', hire_date: '2026-10-20' });
    const lead = await insertLead(db.pool, { park_phone: '987000012', asset_plate_number: 'AMB012', first_name: 'Pedro', last_name: 'Ramos Diaz' });
    await refreshIndex(db.pool);
    await recover();
    expect((await linkOf(db.pool, lead))?.person_key).toBe(await driverPerson(db.pool, 'd1'));
  });

  it('does not link when the phone names a person outside the ambiguous plate rule candidates', async () => {
    await insertDriver(db.pool, { driver_id: 'p', phone: '51987000013', full_name: 'RAMOS DIAZ PEDRO' });
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'AMB-013', full_name: 'RAMOS DIAZ PEDRO', hire_date: '2026-10-20' });
    await insertDriver(db.pool, { driver_id: 'd2', car_number: 'AMB-013', full_name: 'RAMOS DIAZ PEDRO', hire_date: '2026-10-20' });
    const lead = await insertLead(db.pool, { park_phone: '987000013', asset_plate_number: 'AMB013', first_name: 'Pedro', last_name: 'Ramos Diaz' });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toBeUndefined();
    expect((await jobOf(db.pool, lead))?.fail_reason).toBe('MULTIPLE_CANDIDATES');
  });

  it('ignores a weak plate rule when the phone names a person', async () => {
    await insertDriver(db.pool, { driver_id: 'p', phone: '51987000014', full_name: 'RAMOS DIAZ PEDRO' });
    await insertDriver(db.pool, { driver_id: 'other', car_number: 'WK-014', full_name: 'ZAPATA QUISPE ELENA', hire_date: '2026-10-20' });
    const lead = await insertLead(db.pool, { park_phone: '987000014', asset_plate_number: 'WK014', first_name: 'Pedro', last_name: 'Ramos' });
    await refreshIndex(db.pool);
    await recover();
    expect((await linkOf(db.pool, lead))?.person_key).toBe(await driverPerson(db.pool, 'p'));
  });

  it('reuses the person of a driver that is already linked', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000015', full_name: 'PAZ ORTIZ EVA' });
    const first = await insertLead(db.pool, { park_phone: '987000015', lead_created_at: '2026-09-01 10:00' });
    await refreshIndex(db.pool);
    await recover();
    const person = await driverPerson(db.pool, 'd1');
    const second = await insertLead(db.pool, { park_phone: '+51 987 000 015', lead_created_at: '2026-11-01 10:00' });
    await recover();
    expect((await linkOf(db.pool, second))?.person_key).toBe(person);
    expect((await db.pool.query('select count(*)::int as n from canon.identity_registry')).rows[0].n).toBe(1);
    const gap = await gapOf(db.pool, second);
    expect(gap).toMatchObject({ gap_reason: 'resolved', is_repeat_lead: true });
    expect((await gapOf(db.pool, first))).toMatchObject({ gap_reason: 'resolved', is_repeat_lead: false });
  });

  it('creates one person per driver when two leads of one batch match the same unlinked driver, with the origin on the earliest lead', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000016', full_name: 'PAZ ORTIZ EVA' });
    const later = await insertLead(db.pool, { park_phone: '987000016', lead_created_at: '2026-11-10 10:00' });
    const earlier = await insertLead(db.pool, { park_phone: '987000016', lead_created_at: '2026-11-02 10:00' });
    await refreshIndex(db.pool);
    await recover();
    const person = await driverPerson(db.pool, 'd1');
    expect((await linkOf(db.pool, later))?.person_key).toBe(person);
    expect((await linkOf(db.pool, earlier))?.person_key).toBe(person);
    expect((await db.pool.query('select count(*)::int as n from canon.identity_registry')).rows[0].n).toBe(1);
    const origin = await db.pool.query('select origin_source_id from canon.identity_origin where person_key = $1', [person]);
    expect(origin.rows).toEqual([{ origin_source_id: earlier }]);
    expect((await gapOf(db.pool, later))).toMatchObject({ gap_reason: 'resolved', is_repeat_lead: true });
  });

  it('moves the origin to an earlier lead linked later, writing a history row', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000017', full_name: 'PAZ ORTIZ EVA' });
    const later = await insertLead(db.pool, { park_phone: '987000017', lead_created_at: '2026-11-10 10:00' });
    await refreshIndex(db.pool);
    await recover();
    const person = await driverPerson(db.pool, 'd1');
    const earlier = await insertLead(db.pool, { park_phone: '987000017', lead_created_at: '2026-10-01 10:00' });
    await recover();
    const origin = await db.pool.query('select origin_source_id from canon.identity_origin where person_key = $1', [person]);
    expect(origin.rows[0].origin_source_id).toBe(earlier);
    const history = await db.pool.query('select old_source_id, new_source_id, change_reason from canon.identity_origin_history where person_key = $1 order by id', [person]);
    expect(history.rows).toEqual([
      { old_source_id: null, new_source_id: later, change_reason: 'origin_created' },
      { old_source_id: later, new_source_id: earlier, change_reason: 'origin_corrected' },
    ]);
  });
});

describe('retry_identity_matching: repairs and conflicts', () => {
  const personKey = '0190f0a0-0000-7000-8000-0000000000aa';
  const makePerson = async (leadId: string, driverId?: string) => {
    await db.pool.query(`insert into canon.identity_registry (person_key, confidence_level) values ($1, 'HIGH')`, [personKey]);
    await db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
      values ($1, 'module_ct_cabinet_leads', $2, 'MANUAL', 100, 'HIGH')`, [personKey, leadId]);
    if (driverId) {
      await db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
        values ($1, 'drivers', $2, 'MANUAL', 100, 'HIGH')`, [personKey, driverId]);
    }
  };

  it('repairs a linked lead whose person has no origin (ORIGIN_REPAIR), writing a history row', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000020', full_name: 'PAZ ORTIZ EVA' });
    const lead = await insertLead(db.pool, { park_phone: '987000020' });
    await refreshIndex(db.pool);
    await makePerson(lead, 'd1');
    expect((await gapOf(db.pool, lead))?.gap_reason).toBe('no_origin');
    await recover();
    expect((await gapOf(db.pool, lead))?.gap_reason).toBe('resolved');
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'matched', match_rule: 'ORIGIN_REPAIR', matched_person_key: personKey });
    const history = await db.pool.query('select change_reason, new_source_id from canon.identity_origin_history where person_key = $1', [personKey]);
    expect(history.rows).toEqual([{ change_reason: 'origin_created', new_source_id: lead }]);
  });

  it('repairs an origin that points to a lead not linked to the person, writing a history row', async () => {
    const lead = await insertLead(db.pool, { park_phone: null });
    const stranger = await insertLead(db.pool, { park_phone: null });
    await makePerson(lead);
    await db.pool.query(`insert into canon.identity_origin (person_key, origin_tag, origin_source_id) values ($1, 'cabinet_lead', $2)`, [personKey, stranger]);
    expect((await gapOf(db.pool, lead))?.gap_reason).toBe('inconsistent_origin');
    await recover({ gap_reason: 'inconsistent_origin' });
    const origin = await db.pool.query('select origin_source_id, decided_by from canon.identity_origin where person_key = $1', [personKey]);
    expect(origin.rows[0]).toEqual({ origin_source_id: lead, decided_by: 'system' });
    const history = await db.pool.query('select old_source_id, new_source_id, change_reason from canon.identity_origin_history where person_key = $1', [personKey]);
    expect(history.rows).toEqual([{ old_source_id: stranger, new_source_id: lead, change_reason: 'origin_corrected' }]);
    expect((await jobOf(db.pool, stranger))).toBeUndefined();
  });

  it('replaces a lower-ranked origin tag by the cabinet lead', async () => {
    const lead = await insertLead(db.pool, {});
    await makePerson(lead);
    await db.pool.query(`insert into canon.identity_origin (person_key, origin_tag, origin_source_id) values ($1, 'migration', 'legacy-42')`, [personKey]);
    await recover();
    const origin = await db.pool.query('select origin_tag, origin_source_id from canon.identity_origin where person_key = $1', [personKey]);
    expect(origin.rows[0]).toEqual({ origin_tag: 'cabinet_lead', origin_source_id: lead });
    const history = await db.pool.query('select old_origin_tag, change_reason from canon.identity_origin_history where person_key = $1', [personKey]);
    expect(history.rows).toEqual([{ old_origin_tag: 'migration', change_reason: 'origin_upgraded' }]);
  });

  it('never changes a manual origin: the lead it leaves in the gap is reported CONFLICTING_LINK', async () => {
    const lead = await insertLead(db.pool, {});
    await makePerson(lead);
    await db.pool.query(`insert into canon.identity_origin (person_key, origin_tag, origin_source_id, decided_by) values ($1, 'scout_registration', 'scout-7', 'manual')`, [personKey]);
    await recover();
    const origin = await db.pool.query('select origin_tag, origin_source_id, decided_by from canon.identity_origin where person_key = $1', [personKey]);
    expect(origin.rows[0]).toEqual({ origin_tag: 'scout_registration', origin_source_id: 'scout-7', decided_by: 'manual' });
    expect((await jobOf(db.pool, lead))).toMatchObject({ status: 'pending', fail_reason: 'CONFLICTING_LINK' });
    expect((await db.pool.query('select count(*)::int as n from canon.identity_origin_history')).rows[0].n).toBe(0);
  });

  it('repairs a linked lead whose matching names another person (ORIGIN_REPAIR), keeps its link and records a finding', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000021', full_name: 'PAZ ORTIZ EVA' });
    const otherKey = '0190f0a0-0000-7000-8000-0000000000bb';
    await db.pool.query(`insert into canon.identity_registry (person_key, confidence_level) values ($1, 'HIGH')`, [otherKey]);
    await db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
      values ($1, 'drivers', 'd1', 'MANUAL', 100, 'HIGH')`, [otherKey]);
    const anchor = await insertLead(db.pool, { park_phone: null, lead_created_at: '2026-01-01 00:00' });
    await db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
      values ($1, 'module_ct_cabinet_leads', $2, 'MANUAL', 100, 'HIGH')`, [otherKey, anchor]);
    await db.pool.query(`insert into canon.identity_origin (person_key, origin_tag, origin_source_id) values ($1, 'cabinet_lead', $2)`, [otherKey, anchor]);
    const lead = await insertLead(db.pool, { park_phone: '987000021' });
    await makePerson(lead);
    await refreshIndex(db.pool);
    await recover();
    // SPEC 3.3: the link is kept, the person's origin derived again, and the disagreement is a finding.
    expect((await linkOf(db.pool, lead))?.person_key).toBe(personKey);
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'matched', fail_reason: null, match_rule: 'ORIGIN_REPAIR', matched_person_key: personKey });
    expect(await gapOf(db.pool, lead)).toMatchObject({ gap_reason: 'resolved' });
    const findings = await db.pool.query('select * from ops.v_identity_link_findings');
    expect(findings.rows).toEqual([expect.objectContaining({ lead_id: lead, linked_person_key: personKey, other_person_key: otherKey, other_driver_id: null, match_rule: 'R1_PHONE_EXACT' })]);
  });

  it('repairs a linked lead whatever the batch size, when another lead of the run links the driver its matching names', async () => {
    // The case of issue 15: with batch size 1 the lead was CONFLICTING_LINK, with 2 ORIGIN_REPAIR.
    for (const batchSize of [1, 2]) {
      await resetData(db.pool);
      await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000022', full_name: 'PAZ ORTIZ EVA' });
      const fresh = await insertLead(db.pool, { park_phone: '987000022', lead_created_at: '2026-01-01 00:00' });
      const linked = await insertLead(db.pool, { park_phone: '987000022', lead_created_at: '2026-01-02 00:00' });
      await makePerson(linked);
      await refreshIndex(db.pool);
      await recover({ batch_size: batchSize });
      expect(await jobOf(db.pool, linked)).toMatchObject({ status: 'matched', match_rule: 'ORIGIN_REPAIR', matched_person_key: personKey });
      expect(await jobOf(db.pool, fresh)).toMatchObject({ status: 'matched', match_rule: 'R1_PHONE_EXACT' });
      const finding = await db.pool.query('select other_person_key, other_driver_id from ops.v_identity_link_findings where lead_id = $1', [linked]);
      expect(finding.rows).toEqual([{ other_person_key: null, other_driver_id: 'd1' }]);
    }
  });
});

describe('retry_identity_matching: reasons', () => {
  it('records MISSING_KEYS for a lead with no usable phone and no plate', async () => {
    const lead = await insertLead(db.pool, { park_phone: '000', asset_plate_number: '--', first_name: 'Ana' });
    await recover();
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'pending', fail_reason: 'MISSING_KEYS' });
  });

  it('records NO_CANDIDATES when no driver has the phone or plate', async () => {
    const lead = await insertLead(db.pool, { park_phone: '987999999', asset_plate_number: 'NON-000' });
    await recover();
    expect((await jobOf(db.pool, lead))?.fail_reason).toBe('NO_CANDIDATES');
  });

  it('records INVALID_LEAD_DATE for an unmatched lead without a date, and still links such a lead by phone', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000030', full_name: 'PAZ ORTIZ EVA' });
    await insertDriver(db.pool, { driver_id: 'd2', car_number: 'NOD-030', full_name: 'PAZ ORTIZ EVA', hire_date: '2026-10-01' });
    const byPhone = await insertLead(db.pool, { park_phone: '987000030', lead_created_at: null });
    const undated = await insertLead(db.pool, { asset_plate_number: 'NOD030', first_name: 'Luis', lead_created_at: null });
    await refreshIndex(db.pool);
    await recover();
    expect((await linkOf(db.pool, byPhone))?.match_rule).toBe('R1_PHONE_EXACT');
    expect((await jobOf(db.pool, undated))?.fail_reason).toBe('INVALID_LEAD_DATE');
  });

  it('links an undated lead by plate through R3B, since R3 needs a date', async () => {
    await insertDriver(db.pool, { driver_id: 'd2', car_number: 'NOD-031', full_name: 'PAZ ORTIZ EVA', hire_date: '2026-10-01' });
    const undated = await insertLead(db.pool, { asset_plate_number: 'NOD031', first_name: 'Eva', last_name: 'Paz Ortiz', lead_created_at: null });
    await refreshIndex(db.pool);
    await recover();
    expect((await linkOf(db.pool, undated))?.match_rule).toBe('R3B_PLATE_NAME_ANY_DATE');
  });

  it('records LEAD_NOT_FOUND for a lead deleted after its job row exists, and fails it', async () => {
    const lead = await insertLead(db.pool, { park_phone: '987999998' });
    await recover();
    await db.pool.query(`update ops.identity_matching_jobs set next_attempt_at = now() - interval '1 minute' where source_id = $1`, [lead]);
    await db.pool.query(`delete from public.module_ct_cabinet_leads where external_id = $1`, [lead]);
    await recover();
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'failed', fail_reason: 'LEAD_NOT_FOUND', attempt_count: 2 });
  });

  it('plans whether each lead has a job row; a job row written by hand after planning fails the batch on its unique key, which is planned again and retried whole', async () => {
    const fresh = await insertLead(db.pool, { park_phone: '987999931' });
    const retried = await insertLead(db.pool, { park_phone: '987999932' });
    await recover({ limit: 1 });
    const first = (await jobOf(db.pool, fresh)) ? fresh : retried;
    const other = first === fresh ? retried : fresh;
    await db.pool.query(`update ops.identity_matching_jobs set next_attempt_at = now() - interval '1 minute' where source_id = $1`, [first]);
    const client = await db.pool.connect();
    try {
      const runId = Number((await client.query(`select ops.start_run('retry_identity_matching', 'cli', '{}') as id`)).rows[0].id);
      await client.query('select pg_advisory_lock(ops.recovery_lock_key())');
      await client.query('select ops.plan_recovery($1)', [runId]);
      const queued = await client.query('select lead_id, has_job from ops.recovery_queue where run_id = $1 order by lead_id', [runId]);
      expect(Object.fromEntries(queued.rows.map((r) => [r.lead_id, r.has_job]))).toEqual({ [first]: true, [other]: false });
      // Written by hand after the plan: the batch's plain insert meets it; the runner plans the batch again and retries it.
      await db.pool.query(`insert into ops.identity_matching_jobs (source_id, status, attempt_count, fail_reason) values ($1, 'pending', 3, 'NO_CANDIDATES')`, [other]);
      await expect(client.query('select * from ops.process_identity_batch($1, 1, 2)', [runId])).rejects.toMatchObject({ code: '23505' });
      const counts = { processed: 0, matched: 0, failed: 0, pending: 0, skipped: 0 };
      expect(await processRange(client, runId, 1, 2, counts, silentLog())).toBe(0);
      await client.query('select pg_advisory_unlock(ops.recovery_lock_key())');
      await client.query(`select ops.finish_run($1, 'succeeded')`, [runId]);
      expect(counts).toMatchObject({ processed: 2, pending: 2 });
    } finally {
      client.release();
    }
    expect(await jobOf(db.pool, other)).toMatchObject({ status: 'pending', fail_reason: 'NO_CANDIDATES', attempt_count: 4 });
    expect(await jobOf(db.pool, first)).toMatchObject({ status: 'pending', fail_reason: 'NO_CANDIDATES', attempt_count: 2 });
    expect((await db.pool.query(`select count(*)::int as n from ops.identity_matching_jobs where source_id in ($1, $2)`, [first, other])).rows[0].n).toBe(2);
  });

  it('skips leads already resolved: a matched row stays matched, a lead resolved by hand becomes skipped, no attempt counted', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000040', full_name: 'PAZ ORTIZ EVA' });
    const lead = await insertLead(db.pool, { park_phone: '987000040' });
    const byHand = await insertLead(db.pool, { park_phone: null });
    await refreshIndex(db.pool);
    const key = '0190f0a0-0000-7000-8000-0000000000cc';
    await db.pool.query(`insert into canon.identity_registry (person_key, confidence_level) values ($1, 'HIGH')`, [key]);
    await db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
      values ($1, 'module_ct_cabinet_leads', $2, 'MANUAL', 100, 'HIGH')`, [key, byHand]);
    await db.pool.query(`insert into canon.identity_origin (person_key, origin_tag, origin_source_id, decided_by) values ($1, 'cabinet_lead', $2, 'manual')`, [key, byHand]);
    await db.pool.query(`insert into ops.identity_matching_jobs (source_id, status, attempt_count, fail_reason) values ($1, 'pending', 2, 'NO_CANDIDATES')`, [byHand]);
    const runId = (await db.pool.query(`select ops.start_run('retry_identity_matching', 'cli', '{}') as id`)).rows[0].id;
    await db.pool.query(`insert into ops.recovery_queue (run_id, seq, lead_id) values ($1, 1, $2)`, [runId, lead]);
    await db.pool.query(`select * from ops.process_identity_batch($1, 1, 1)`, [runId]);
    await db.pool.query(`insert into ops.recovery_queue (run_id, seq, lead_id) values ($1, 2, $2), ($1, 3, $3)`, [runId, lead, byHand]);
    const { rows } = await db.pool.query(`select * from ops.process_identity_batch($1, 2, 3)`, [runId]);
    expect(rows[0]).toMatchObject({ processed: 2, skipped: 2, matched: 0 });
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'matched', match_rule: 'R1_PHONE_EXACT', attempt_count: 1 });
    expect(await jobOf(db.pool, byHand)).toMatchObject({ status: 'skipped', fail_reason: null, attempt_count: 2 });
    await db.pool.query(`select ops.finish_run($1, 'succeeded')`, [runId]);
  });
});
