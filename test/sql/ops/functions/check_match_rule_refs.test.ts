/*
 * match_rule refers to the rule catalogue on canon.identity_links and ops.identity_matching_jobs, checked once a
 * statement (ops.check_refs) and on the catalogue's side (ops.match_rule_in_use): the refusals of a
 * foreign key, with its SQLSTATE, and a delete that waits for a writer naming the rule.
 */
import pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';

const db = await useTestDatabase();
const PERSON = '0190f0a0-0000-7000-8000-00000000f001';

const link = (rule: string, pk = 'lead-1') =>
  db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
                 values ($1, 'module_ct_cabinet_leads', $2, $3, 100, 'HIGH')`, [PERSON, pk, rule]);
const job = (rule: string | null, id = 'lead-1') =>
  db.pool.query(`insert into ops.identity_matching_jobs (source_id, status, match_rule) values ($1, 'pending', $2)`, [id, rule]);
const addRule = (rule: string) =>
  db.pool.query(`insert into ops.match_rules (match_rule, kind, description) values ($1, 'manual', 'a rule of this test')`, [rule]);

beforeEach(async () => {
  await db.pool.query('truncate canon.identity_links, ops.identity_matching_jobs');
  await db.pool.query(`delete from ops.match_rules where match_rule like 'TEST\\_%'`);
  await db.pool.query(`insert into canon.identity_registry (person_key, confidence_level) values ($1, 'HIGH') on conflict do nothing`, [PERSON]);
});

describe('the reference of match_rule to ops.match_rules', () => {
  it('has no per-row foreign key on the two tables a batch writes, and a statement trigger for each event instead', async () => {
    const { rows } = await db.pool.query(`
      select conrelid::regclass::text as tbl from pg_constraint
      where contype = 'f' and confrelid = 'ops.match_rules'::regclass
        and conrelid in ('canon.identity_links'::regclass, 'ops.identity_matching_jobs'::regclass)`);
    expect(rows).toEqual([]);
    const triggers = await db.pool.query(`
      select tgrelid::regclass::text as tbl, tgname from pg_trigger
      where tgfoid = 'ops.check_refs'::regproc and tgname like 'match_rule%' order by 1, 2`);
    expect(triggers.rows).toEqual([
      { tbl: 'canon.identity_links', tgname: 'match_rule_refs_insert' },
      { tbl: 'canon.identity_links', tgname: 'match_rule_refs_update' },
      { tbl: 'ops.identity_matching_jobs', tgname: 'match_rule_refs_insert' },
      { tbl: 'ops.identity_matching_jobs', tgname: 'match_rule_refs_update' },
    ]);
  });

  it('accepts rules of the catalogue and a null rule, in one statement of many rows', async () => {
    await link('R1_PHONE_EXACT');
    await db.pool.query(`insert into ops.identity_matching_jobs (source_id, status, match_rule)
                         select 'lead-' || g, 'matched', case when g % 3 = 0 then null when g % 3 = 1 then 'R1_PHONE_EXACT' else 'MANUAL' end
                         from generate_series(1, 500) as g`);
    expect((await db.pool.query('select count(*)::int as n from ops.identity_matching_jobs')).rows[0].n).toBe(500);
  });

  it('refuses an insert naming a rule not in the catalogue, with SQLSTATE 23503 and the rule named, and writes nothing', async () => {
    await expect(link('R9_GUESS')).rejects.toMatchObject({ code: '23503', detail: expect.stringContaining('R9_GUESS'), table: 'identity_links' });
    await expect(db.pool.query(`insert into ops.identity_matching_jobs (source_id, status, match_rule)
                                values ('a', 'matched', 'R1_PHONE_EXACT'), ('b', 'matched', 'R9_GUESS')`))
      .rejects.toMatchObject({ code: '23503', detail: expect.stringContaining('R9_GUESS'), table: 'identity_matching_jobs' });
    expect((await db.pool.query('select count(*)::int as n from canon.identity_links')).rows[0].n).toBe(0);
    expect((await db.pool.query('select count(*)::int as n from ops.identity_matching_jobs')).rows[0].n).toBe(0);
  });

  it('refuses an update to a rule not in the catalogue', async () => {
    await job(null);
    await link('R1_PHONE_EXACT');
    await expect(db.pool.query(`update ops.identity_matching_jobs set match_rule = 'R9_GUESS'`)).rejects.toMatchObject({ code: '23503' });
    await expect(db.pool.query(`update canon.identity_links set match_rule = 'R9_GUESS'`)).rejects.toMatchObject({ code: '23503' });
    await db.pool.query(`update ops.identity_matching_jobs set match_rule = 'MANUAL'`);
  });

  it('refuses to delete or rename a rule a link or a job row refers to, and deletes one nobody refers to', async () => {
    await addRule('TEST_LINKED');
    await addRule('TEST_JOB');
    await addRule('TEST_FREE');
    await link('TEST_LINKED');
    await job('TEST_JOB');
    await expect(db.pool.query(`delete from ops.match_rules where match_rule = 'TEST_LINKED'`))
      .rejects.toMatchObject({ code: '23503', detail: expect.stringContaining('TEST_LINKED') });
    await expect(db.pool.query(`update ops.match_rules set match_rule = 'TEST_RENAMED' where match_rule = 'TEST_JOB'`))
      .rejects.toMatchObject({ code: '23503', detail: expect.stringContaining('TEST_JOB') });
    await db.pool.query(`update ops.match_rules set description = 'changed' where match_rule = 'TEST_JOB'`);
    await db.pool.query(`delete from ops.match_rules where match_rule = 'TEST_FREE'`);
    expect((await db.pool.query(`select match_rule from ops.match_rules where match_rule like 'TEST\\_%' order by 1`)).rows)
      .toEqual([{ match_rule: 'TEST_JOB' }, { match_rule: 'TEST_LINKED' }]);
  });

  it('makes a delete of a rule wait for a transaction that wrote it, and then refuses it', async () => {
    await addRule('TEST_RACE');
    const writer = new pg.Client({ connectionString: db.url });
    const deleter = new pg.Client({ connectionString: db.url });
    await writer.connect();
    await deleter.connect();
    try {
      await writer.query('begin');
      await writer.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
                          values ($1, 'module_ct_cabinet_leads', 'lead-race', 'TEST_RACE', 100, 'HIGH')`, [PERSON]);
      let settled = false;
      const deleting = deleter.query(`delete from ops.match_rules where match_rule = 'TEST_RACE'`).finally(() => { settled = true; });
      deleting.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      expect(settled).toBe(false); // waiting on the writer's key-share lock
      await writer.query('commit');
      await expect(deleting).rejects.toMatchObject({ code: '23503' });
      expect((await db.pool.query(`select count(*)::int as n from ops.match_rules where match_rule = 'TEST_RACE'`)).rows[0].n).toBe(1);
    } finally {
      await writer.end();
      await deleter.end();
      await db.pool.query(`delete from canon.identity_links where source_pk = 'lead-race'`);
    }
  });
});
