import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.js';
import { driverPerson, insertDriver, insertLead, jobOf, lastRun, linkOf, refreshIndex, resetData, runJob } from '../support/fixtures.js';
import { expectInvariants } from '../support/invariants.js';

const db = await useTestDatabase();
const recover = async (payload: Record<string, unknown> = {}) => {
  await runJob(db.url, db.pool, 'retry_identity_matching', payload);
  const run = await lastRun(db.pool, 'retry_identity_matching');
  expect(run.error).toBeNull();
  expect(run.state).toBe('succeeded');
  return run;
};
const setSetting = (key: string, value: string | null) => db.pool.query('update ops.settings set value = $2 where key = $1', [key, value]);
const candidatesOf = async (lead: string) =>
  (await db.pool.query(`select candidate_rank, driver_id, match_rule, score, queue_reason, evidence from ops.lead_candidates
                        where lead_id = $1 order by candidate_rank`, [lead])).rows as
    { candidate_rank: number; driver_id: string; match_rule: string; score: number; queue_reason: string; evidence: Record<string, any> }[];
const ROSA = { full_name: 'QUISPE MAMANI ROSA', hire_date: '2026-10-20' };
const rosaLead = { first_name: 'Rosa', last_name: 'Quispe Mamani' };

beforeEach(async () => {
  await resetData(db.pool);
  await db.pool.query('truncate ops.lead_candidates, ops.review_decisions, ops.recovery_near_pairs');
});
afterEach(async () => {
  await expectInvariants(db.pool);
  await setSetting('target_park_id', null);
  await setSetting('near_keys_enabled', '1');
});

describe('retry_identity_matching: rule R4_PLATE_NEAR', () => {
  it('links a lead whose plate has one character substituted, the name agreeing, with every field, level and weight in the evidence', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC-123', ...ROSA });
    const lead = await insertLead(db.pool, { asset_plate_number: 'ABD-123', ...rosaLead });
    await refreshIndex(db.pool);
    await recover();
    const link = await linkOf(db.pool, lead);
    expect(link?.match_rule).toBe('R4_PLATE_NEAR');
    expect(link!.person_key).toBe(await driverPerson(db.pool, 'd1'));
    expect(link!.match_score).toBeGreaterThanOrEqual(90);
    /* Confidence follows from the thresholds: HIGH at or above match_high_confidence_threshold (99), else MEDIUM. */
    expect(link!.confidence_level).toBe(link!.match_score >= 99 ? 'HIGH' : 'MEDIUM');
    const match = (link!.evidence as any).rules.R4_PLATE_NEAR.match;
    expect(match.score).toBe(link!.match_score);
    expect(Object.keys(match.fields).sort()).toEqual(['hire_date', 'name', 'park', 'phone', 'plate']);
    expect(match.fields.plate.level).toBe('one_edit');
    expect(match.fields.name.level).toBe('exact');
    expect(match.fields.hire_date.level).toBe('exact');
    expect(match.fields.phone).toEqual({ level: 'missing', weight: 0 });
    for (const field of Object.values(match.fields) as { weight: number }[]) expect(typeof field.weight).toBe('number');
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'matched', match_rule: 'R4_PLATE_NEAR' });
    expect(await candidatesOf(lead)).toEqual([]);
  });

  it('links a plate typed with a look-alike character (8 for B) at the look_alike level', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'BBC123', ...ROSA });
    const lead = await insertLead(db.pool, { asset_plate_number: 'B8C 123', ...rosaLead });
    await refreshIndex(db.pool);
    await recover();
    const link = await linkOf(db.pool, lead);
    expect(link?.match_rule).toBe('R4_PLATE_NEAR');
    expect((link!.evidence as any).rules.R4_PLATE_NEAR.match.fields.plate.level).toBe('look_alike');
  });

  it('links a plate with two adjacent characters swapped', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC123', ...ROSA });
    const lead = await insertLead(db.pool, { asset_plate_number: 'BAC123', ...rosaLead });
    await refreshIndex(db.pool);
    await recover();
    expect((await linkOf(db.pool, lead))?.person_key).toBe(await driverPerson(db.pool, 'd1'));
  });

  it('never links nor proposes a near plate that belongs to someone whose name disagrees (NO_CANDIDATES)', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC124', full_name: 'VEGA SOTO MARIO', hire_date: '2026-10-20' });
    const lead = await insertLead(db.pool, { asset_plate_number: 'ABC123', ...rosaLead });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toBeUndefined();
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'pending', fail_reason: 'NO_CANDIDATES' });
    expect(await candidatesOf(lead)).toEqual([]);
  });

  it('does not link two namesakes each one edit away: MULTIPLE_CANDIDATES, both in the review store', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC124', ...ROSA });
    await insertDriver(db.pool, { driver_id: 'd2', car_number: 'ABC125', ...ROSA });
    const lead = await insertLead(db.pool, { asset_plate_number: 'ABC123', ...rosaLead });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toBeUndefined();
    expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'pending', fail_reason: 'MULTIPLE_CANDIDATES' });
    const candidates = await candidatesOf(lead);
    expect(candidates.map((c) => [c.candidate_rank, c.driver_id, c.match_rule, c.queue_reason])).toEqual([
      [1, 'd1', 'R4_PLATE_NEAR', 'MULTIPLE_CANDIDATES'], [2, 'd2', 'R4_PLATE_NEAR', 'MULTIPLE_CANDIDATES']]);
    expect(candidates[0]!.score).toBe(candidates[1]!.score);
    expect(await driverPerson(db.pool, 'd1')).toBeUndefined();
  });

  it('finds nothing near when near_keys_enabled is 0', async () => {
    await setSetting('near_keys_enabled', '0');
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC123', ...ROSA });
    const lead = await insertLead(db.pool, { asset_plate_number: 'ABD123', ...rosaLead });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toBeUndefined();
    expect((await jobOf(db.pool, lead))?.fail_reason).toBe('NO_CANDIDATES');
  });

  it('never links nor proposes again a near pair a reviewer rejected', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC123', ...ROSA });
    const lead = await insertLead(db.pool, { asset_plate_number: 'ABD123', ...rosaLead });
    await db.pool.query(`insert into ops.review_decisions (lead_id, driver_id, decision, reviewer) values ($1, 'd1', 'reject', 'ana')`, [lead]);
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toBeUndefined();
    expect((await jobOf(db.pool, lead))?.fail_reason).toBe('NO_CANDIDATES');
    expect(await candidatesOf(lead)).toEqual([]);
  });
});

describe('retry_identity_matching: near keys after a reviewer rejected the exact candidate', () => {
  /* The plan reads "no exact candidate" from its own edges; a lead whose every exact candidate was rejected has none,
     and is checked against the drivers index (ops.plan_near_pairs' second branch). */
  const setUp = async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC123', ...ROSA });
    await insertDriver(db.pool, { driver_id: 'd2', phone: '51987654321', full_name: 'PEREZ SOTO LUIS', hire_date: '2026-10-20' });
    return insertLead(db.pool, { asset_plate_number: 'ABD123', park_phone: '987654321', ...rosaLead });
  };

  it('looks for near keys of a lead whose only exact candidate was rejected, and links the near one', async () => {
    const lead = await setUp();
    await db.pool.query(`insert into ops.review_decisions (lead_id, driver_id, decision, reviewer) values ($1, 'd2', 'reject', 'ana')`, [lead]);
    await refreshIndex(db.pool);
    await recover();
    const link = await linkOf(db.pool, lead);
    expect(link?.match_rule).toBe('R4_PLATE_NEAR');
    expect(link!.person_key).toBe(await driverPerson(db.pool, 'd1'));
  });

  it('without the reject, the exact phone candidate keeps the lead from near keys', async () => {
    const lead = await setUp();
    await refreshIndex(db.pool);
    await recover();
    const link = await linkOf(db.pool, lead);
    expect(link?.match_rule).not.toBe('R4_PLATE_NEAR');
    expect(link?.person_key ?? null).not.toBe(await driverPerson(db.pool, 'd1'));
  });
});

describe('retry_identity_matching: rule R5_PHONE_NEAR', () => {
  it('links a lead whose phone has two adjacent digits swapped, the name agreeing', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321', ...ROSA });
    const lead = await insertLead(db.pool, { park_phone: '987 654 312', ...rosaLead });
    await refreshIndex(db.pool);
    await recover();
    const link = await linkOf(db.pool, lead);
    expect(link?.match_rule).toBe('R5_PHONE_NEAR');
    expect(link!.person_key).toBe(await driverPerson(db.pool, 'd1'));
    expect((link!.evidence as any).rules.R5_PHONE_NEAR.match.fields.phone.level).toBe('one_edit');
  });

  it('links a phone with one digit substituted', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321', ...ROSA });
    const lead = await insertLead(db.pool, { park_phone: '987650321', ...rosaLead });
    await refreshIndex(db.pool);
    await recover();
    expect((await linkOf(db.pool, lead))?.match_rule).toBe('R5_PHONE_NEAR');
  });

  /* The plan checks an edit only where the keys agree outside the deletion's position and its neighbours: the edit at
     either end of a key, and inside a run of one character (whose deletions give one variant), must pass that test. */
  it('links a phone with its first two digits swapped, and a plate with a substitution inside a run of one letter', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321', ...ROSA });
    await insertDriver(db.pool, { driver_id: 'd2', car_number: 'KRB123', full_name: 'PAZ ORTIZ EVA', hire_date: '2026-10-20' });
    const swapped = await insertLead(db.pool, { park_phone: '897654321', ...rosaLead });
    const inRun = await insertLead(db.pool, { asset_plate_number: 'KKB123', first_name: 'Eva', last_name: 'Paz Ortiz' });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, swapped)).toMatchObject({ match_rule: 'R5_PHONE_NEAR', person_key: await driverPerson(db.pool, 'd1') });
    expect(await linkOf(db.pool, inRun)).toMatchObject({ match_rule: 'R4_PLATE_NEAR', person_key: await driverPerson(db.pool, 'd2') });
  });
});

describe('retry_identity_matching: rule R6_NAME_NEAR_PLATE', () => {
  it('links the plate the exact rules call weak because of a misspelt surname', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC123', ...ROSA });
    const lead = await insertLead(db.pool, { asset_plate_number: 'ABC123', first_name: 'Rosa', last_name: 'Qispe Mamani' });
    await refreshIndex(db.pool);
    await recover();
    const link = await linkOf(db.pool, lead);
    expect(link?.match_rule).toBe('R6_NAME_NEAR_PLATE');
    expect(link!.person_key).toBe(await driverPerson(db.pool, 'd1'));
    const match = (link!.evidence as any).rules.R6_NAME_NEAR_PLATE.match;
    expect(match.fields.plate.level).toBe('exact');
    expect(match.fields.name.level).toBe('one_edit');
    expect((link!.evidence as any).rules.R3_PLATE_NAME.verdict).toBe('weak');
  });

  it('does not link a plate whose driver has another name (WEAK_MATCH_ONLY, in the review store)', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC123', full_name: 'VEGA SOTO MARIO', hire_date: '2026-10-20' });
    const lead = await insertLead(db.pool, { asset_plate_number: 'ABC123', ...rosaLead });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toBeUndefined();
    expect((await jobOf(db.pool, lead))?.fail_reason).toBe('WEAK_MATCH_ONLY');
    const candidates = await candidatesOf(lead);
    expect(candidates.map((c) => [c.driver_id, c.match_rule, c.queue_reason])).toEqual([['d1', 'R3_PLATE_NAME', 'WEAK_MATCH_ONLY']]);
    expect(candidates[0]!.evidence.fields.name.level).toBe('different');
  });
});

describe('retry_identity_matching: near keys after the exact rules', () => {
  it('never lets a near key override an exact rule: the phone names its person', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987654321', full_name: 'VEGA SOTO MARIO' });
    await insertDriver(db.pool, { driver_id: 'd2', car_number: 'ABC124', ...ROSA });
    const lead = await insertLead(db.pool, { park_phone: '987654321', asset_plate_number: 'ABC123', ...rosaLead });
    await refreshIndex(db.pool);
    await recover();
    const link = await linkOf(db.pool, lead);
    expect(link?.match_rule).toBe('R1_PHONE_EXACT');
    expect(link!.person_key).toBe(await driverPerson(db.pool, 'd1'));
    expect(await driverPerson(db.pool, 'd2')).toBeUndefined();
  });

  it('sends an exact ambiguity to review and lets no near key break the tie', async () => {
    await insertDriver(db.pool, { driver_id: 'd1', phone: '51987000001', full_name: 'ROJAS PAZ LUIS' });
    await insertDriver(db.pool, { driver_id: 'd2', phone: '987000001', full_name: 'VEGA SOTO MARIO' });
    await insertDriver(db.pool, { driver_id: 'd3', car_number: 'ABC124', ...ROSA });
    const lead = await insertLead(db.pool, { park_phone: '987000001', asset_plate_number: 'ABC123', ...rosaLead });
    await refreshIndex(db.pool);
    await recover();
    expect(await linkOf(db.pool, lead)).toBeUndefined();
    expect((await jobOf(db.pool, lead))?.fail_reason).toBe('MULTIPLE_CANDIDATES');
    const candidates = await candidatesOf(lead);
    expect(candidates.map((c) => c.driver_id).sort()).toEqual(['d1', 'd2']);
    expect(candidates.every((c) => c.match_rule === 'R1_PHONE_EXACT' && c.queue_reason === 'MULTIPLE_CANDIDATES')).toBe(true);
  });

  it('sends a near-key candidate scoring in the review band to review (REVIEW_BAND), the true driver first', async () => {
    await setSetting('match_link_threshold', '100');
    try {
      await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC123', ...ROSA });
      const lead = await insertLead(db.pool, { asset_plate_number: 'ABD123', ...rosaLead });
      await refreshIndex(db.pool);
      await recover();
      expect(await linkOf(db.pool, lead)).toBeUndefined();
      expect(await jobOf(db.pool, lead)).toMatchObject({ status: 'pending', fail_reason: 'REVIEW_BAND' });
      const candidates = await candidatesOf(lead);
      expect(candidates.map((c) => [c.candidate_rank, c.driver_id, c.match_rule, c.queue_reason])).toEqual([[1, 'd1', 'R4_PLATE_NEAR', 'REVIEW_BAND']]);
      expect(candidates[0]!.evidence.fields.plate.level).toBe('one_edit');
    } finally {
      await setSetting('match_link_threshold', '90');
    }
  });

  it("replaces a lead's review rows when a later run links it, and keeps none", async () => {
    await setSetting('match_link_threshold', '100');
    await insertDriver(db.pool, { driver_id: 'd1', car_number: 'ABC123', ...ROSA });
    const lead = await insertLead(db.pool, { asset_plate_number: 'ABD123', ...rosaLead });
    await refreshIndex(db.pool);
    await recover();
    expect(await candidatesOf(lead)).toHaveLength(1);
    await setSetting('match_link_threshold', '90');
    await db.pool.query(`update ops.identity_matching_jobs set next_attempt_at = now() - interval '1 minute'`);
    await recover();
    expect((await linkOf(db.pool, lead))?.match_rule).toBe('R4_PLATE_NEAR');
    expect(await candidatesOf(lead)).toEqual([]);
  });
});
