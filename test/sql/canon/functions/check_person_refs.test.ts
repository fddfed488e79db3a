/*
 * person_key refers to the registry on canon.identity_links and canon.identity_origin, checked once a statement
 * (ops.check_refs) and on the registry's side (canon.person_in_use): the refusals of a foreign key, with
 * its SQLSTATE, the origin deleted with its person, and a delete that waits for a writer naming the person.
 */
import pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../support/db.js';

const db = await useTestDatabase();
const PERSON = '0190f0a0-0000-7000-8000-00000000e001';
const OTHER = '0190f0a0-0000-7000-8000-00000000e002';
const GHOST = '0190f0a0-0000-7000-8000-00000000e0ff';

const link = (person: string, pk = 'lead-1', table = 'module_ct_cabinet_leads') =>
  db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
                 values ($1, $3, $2, 'MANUAL', 100, 'HIGH')`, [person, pk, table]);
const origin = (person: string, lead = 'lead-1') =>
  db.pool.query(`insert into canon.identity_origin (person_key, origin_tag, origin_source_id) values ($1, 'cabinet_lead', $2)`, [person, lead]);
const count = async (sql: string) => (await db.pool.query(`select count(*)::int as n from ${sql}`)).rows[0].n as number;

beforeEach(async () => {
  await db.pool.query('truncate canon.identity_links, canon.identity_origin, canon.identity_origin_history, canon.identity_registry');
  await db.pool.query(`insert into canon.identity_registry (person_key, confidence_level) values ($1, 'HIGH'), ($2, 'HIGH')`, [PERSON, OTHER]);
});

describe('the reference of person_key to canon.identity_registry', () => {
  it('has no per-row foreign key on links and origins, and a statement trigger for each event instead', async () => {
    const { rows } = await db.pool.query(`
      select conrelid::regclass::text as tbl from pg_constraint
      where contype = 'f' and confrelid = 'canon.identity_registry'::regclass
        and conrelid in ('canon.identity_links'::regclass, 'canon.identity_origin'::regclass)`);
    expect(rows).toEqual([]);
    const triggers = await db.pool.query(`
      select tgrelid::regclass::text as tbl, tgname from pg_trigger
      where (tgfoid = 'ops.check_refs'::regproc and tgname like 'person%') or tgfoid = 'canon.person_in_use'::regproc order by 1, 2`);
    expect(triggers.rows).toEqual([
      { tbl: 'canon.identity_links', tgname: 'person_refs_insert' },
      { tbl: 'canon.identity_links', tgname: 'person_refs_update' },
      { tbl: 'canon.identity_origin', tgname: 'person_refs_insert' },
      { tbl: 'canon.identity_origin', tgname: 'person_refs_update' },
      { tbl: 'canon.identity_registry', tgname: 'person_in_use' },
      { tbl: 'canon.identity_registry', tgname: 'person_in_use_truncate' },
    ]);
  });

  it('accepts persons of the registry, in one statement of many rows, and persons registered in the same transaction', async () => {
    await db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
                         select case when g % 2 = 0 then $1::uuid else $2::uuid end, 'module_ct_cabinet_leads', 'lead-' || g, 'MANUAL', 100, 'HIGH'
                         from generate_series(1, 500) as g`, [PERSON, OTHER]);
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await client.query(`insert into canon.identity_registry (person_key, confidence_level) values ($1, 'LOW')`, [GHOST]);
      await client.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
                          values ($1, 'drivers', 'D-new', 'MANUAL', 100, 'LOW')`, [GHOST]);
      await client.query(`insert into canon.identity_origin (person_key, origin_tag, origin_source_id) values ($1, 'cabinet_lead', 'lead-new')`, [GHOST]);
      await client.query('commit');
    } finally {
      client.release();
    }
    expect(await count('canon.identity_links')).toBe(501);
    expect(await count('canon.identity_origin')).toBe(1);
  });

  it('refuses an insert naming a person not in the registry, with SQLSTATE 23503 and the person named, and writes nothing', async () => {
    await expect(link(GHOST)).rejects.toMatchObject({ code: '23503', detail: expect.stringContaining(GHOST), table: 'identity_links' });
    await expect(db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
                                values ($1, 'drivers', 'D1', 'MANUAL', 100, 'HIGH'), ($2, 'drivers', 'D2', 'MANUAL', 100, 'HIGH')`, [PERSON, GHOST]))
      .rejects.toMatchObject({ code: '23503', detail: expect.stringContaining(GHOST) });
    await expect(origin(GHOST)).rejects.toMatchObject({ code: '23503', table: 'identity_origin' });
    expect(await count('canon.identity_links')).toBe(0);
    expect(await count('canon.identity_origin')).toBe(0);
  });

  it('refuses an update to a person not in the registry, on links and on origins (an upsert too)', async () => {
    await link(PERSON);
    await origin(PERSON);
    await expect(db.pool.query(`update canon.identity_links set person_key = $1`, [GHOST])).rejects.toMatchObject({ code: '23503' });
    await expect(db.pool.query(`update canon.identity_origin set person_key = $1`, [GHOST])).rejects.toMatchObject({ code: '23503' });
    await db.pool.query(`update canon.identity_links set person_key = $1`, [OTHER]);
    expect((await db.pool.query('select person_key from canon.identity_links')).rows).toEqual([{ person_key: OTHER }]);
    await expect(db.pool.query(`insert into canon.identity_origin (person_key, origin_tag, origin_source_id) values ($1, 'cabinet_lead', 'x')
                                on conflict (person_key) do update set person_key = $2`, [PERSON, GHOST]))
      .rejects.toMatchObject({ code: '23503' });
  });

  it('refuses to delete a person a link refers to, deletes a person with only an origin together with that origin', async () => {
    await link(PERSON);
    await origin(PERSON);
    await origin(OTHER, 'lead-2');
    await expect(db.pool.query('delete from canon.identity_registry where person_key = $1', [PERSON]))
      .rejects.toMatchObject({ code: '23503', detail: expect.stringContaining(PERSON) });
    await db.pool.query('delete from canon.identity_registry where person_key = $1', [OTHER]);
    expect((await db.pool.query('select person_key from canon.identity_registry')).rows).toEqual([{ person_key: PERSON }]);
    expect((await db.pool.query('select person_key from canon.identity_origin')).rows).toEqual([{ person_key: PERSON }]);
  });

  it('refuses to change a person_key that a link or an origin refers to, and changes one nobody refers to', async () => {
    await link(PERSON);
    await origin(OTHER);
    await expect(db.pool.query('update canon.identity_registry set person_key = $1 where person_key = $2', [GHOST, PERSON]))
      .rejects.toMatchObject({ code: '23503' });
    await expect(db.pool.query('update canon.identity_registry set person_key = $1 where person_key = $2', [GHOST, OTHER]))
      .rejects.toMatchObject({ code: '23503' });
    await db.pool.query(`update canon.identity_registry set confidence_level = 'LOW'`);
    await db.pool.query('delete from canon.identity_origin');
    await db.pool.query('update canon.identity_registry set person_key = $1 where person_key = $2', [GHOST, OTHER]);
    expect(await count(`canon.identity_registry where person_key = '${GHOST}'`)).toBe(1);
  });

  it('refuses to truncate the registry while links or origins refer to it, and truncates the three together', async () => {
    await link(PERSON);
    await expect(db.pool.query('truncate canon.identity_registry')).rejects.toMatchObject({ code: '23503' });
    expect(await count('canon.identity_registry')).toBe(2);
    await db.pool.query('truncate canon.identity_links');
    await origin(PERSON);
    await expect(db.pool.query('truncate canon.identity_registry')).rejects.toMatchObject({ code: '23503' });
    await db.pool.query('truncate canon.identity_registry, canon.identity_origin, canon.identity_links');
    expect(await count('canon.identity_registry')).toBe(0);
  });

  it('makes a delete of a person wait for a transaction that linked it, and then refuses it', async () => {
    const writer = new pg.Client({ connectionString: db.url });
    const deleter = new pg.Client({ connectionString: db.url });
    await writer.connect();
    await deleter.connect();
    try {
      await writer.query('begin');
      await writer.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level)
                          values ($1, 'module_ct_cabinet_leads', 'lead-race', 'MANUAL', 100, 'HIGH')`, [OTHER]);
      let settled = false;
      const deleting = deleter.query('delete from canon.identity_registry where person_key = $1', [OTHER]).finally(() => { settled = true; });
      deleting.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      expect(settled).toBe(false); // waiting on the writer's key-share lock
      await writer.query('commit');
      await expect(deleting).rejects.toMatchObject({ code: '23503' });
      expect(await count(`canon.identity_registry where person_key = '${OTHER}'`)).toBe(1);
    } finally {
      await writer.end();
      await deleter.end();
    }
  });
});
