import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase, type TestDatabase } from '../support/db.js';
import { resetData } from '../support/fixtures.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await useTestDatabase();
});
beforeEach(async () => {
  await resetData(db.pool);
});

const insert = (external: string | null, id?: number) =>
  id === undefined
    ? db.pool.query<{ id: string }>(`insert into public.module_ct_cabinet_leads (external_id, lead_created_at) values ($1, '2026-11-01') returning id::text as id`, [external])
    : db.pool.query<{ id: string }>(`insert into public.module_ct_cabinet_leads (id, external_id, lead_created_at) values ($1, $2, '2026-11-01') returning id::text as id`, [id, external]);
const refusal = (p: Promise<unknown>) => p.then(() => null, (e: { code?: string; constraint?: string }) => ({ code: e.code, constraint: e.constraint }));

describe('the database keeps one lead per lead_id = coalesce(external_id, id::text), whoever loads the leads', () => {
  it('refuses an external_id equal to the id of a lead without one, on insert and on update', async () => {
    const { rows } = await insert(null);
    const id = rows[0]!.id;
    const check = { code: '23514', constraint: 'module_ct_cabinet_leads_external_id_not_another_id' };
    expect(await refusal(insert(id))).toEqual(check);
    const { rows: other } = await insert('ab12cd34ab12cd34ab12cd34ab12cd34');
    expect(await refusal(db.pool.query(`update public.module_ct_cabinet_leads set external_id = $1 where id = $2`, [id, other[0]!.id]))).toEqual(check);
    const { rows: ids } = await db.pool.query(`select coalesce(external_id, id::text) as lead_id from public.module_ct_cabinet_leads order by id`);
    expect(ids).toEqual([{ lead_id: id }, { lead_id: 'ab12cd34ab12cd34ab12cd34ab12cd34' }]);
  });

  it('refuses a numeric external_id that a later generated id could reach, and accepts one that is its own id', async () => {
    const { rows } = await db.pool.query<{ next: string }>(`select (coalesce(max(id), 0) + 3)::text as next from public.module_ct_cabinet_leads`);
    // Inserted first, '…+3' would become the lead_id of the lead the identity column numbers +3 two inserts later.
    expect(await refusal(insert(rows[0]!.next))).toEqual({ code: '23514', constraint: 'module_ct_cabinet_leads_external_id_not_another_id' });
    expect(await refusal(insert('900000001', 900000001))).toBeNull(); // the row's own id: lead_id is the same either way
    for (const external of ['0042', 'L42', '12345678901234567890123', '+5', '5.0']) expect(await refusal(insert(external)), external).toBeNull();
  });

  it('refuses two rows with one lead_id through the unique index even without the check', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await client.query('alter table public.module_ct_cabinet_leads drop constraint module_ct_cabinet_leads_external_id_not_another_id');
      const { rows } = await client.query<{ id: string }>(`insert into public.module_ct_cabinet_leads (external_id) values (null) returning id::text as id`);
      const failure = await client.query(`insert into public.module_ct_cabinet_leads (external_id) values ($1)`, [rows[0]!.id]).then(() => null, (e: { code?: string; constraint?: string }) => e);
      expect(failure).toMatchObject({ code: '23505', constraint: 'module_ct_cabinet_leads_lead_id_key' });
    } finally {
      await client.query('rollback');
      client.release();
    }
  });

  it('migration 000007 stops with the list when leads already share a lead_id', async () => {
    const dir = new URL('../../migrations/committed/', import.meta.url);
    const file = readdirSync(dir).find((f) => f.startsWith('000007-'))!;
    const body = readFileSync(new URL(file, dir), 'utf8');
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await client.query('alter table public.module_ct_cabinet_leads drop constraint module_ct_cabinet_leads_external_id_not_another_id');
      await client.query('drop index public.module_ct_cabinet_leads_lead_id_key');
      const { rows } = await client.query<{ id: string }>(`insert into public.module_ct_cabinet_leads (external_id) values (null) returning id::text as id`);
      const { rows: twin } = await client.query<{ id: string }>(`insert into public.module_ct_cabinet_leads (external_id) values ($1) returning id::text as id`, [rows[0]!.id]);
      const failure = await client.query(body).then(() => null, (e: Error & { hint?: string }) => e);
      expect(failure?.message).toBe(`two or more leads share a lead_id = coalesce(external_id, id::text): ${rows[0]!.id} (lead ids ${rows[0]!.id}, ${twin[0]!.id})`);
      expect(failure?.hint).toMatch(/distinct non-numeric external_id/);
    } finally {
      await client.query('rollback');
      client.release();
    }
  });
});
