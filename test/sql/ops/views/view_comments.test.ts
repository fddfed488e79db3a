import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase, type TestDatabase } from '../../../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});

describe('ops views are documented', () => {
  it('every view in ops has a comment stating its grain ("One row ...")', async () => {
    const { rows } = await db.pool.query<{ view: string; comment: string | null }>(
      `select c.relname as view, obj_description(c.oid, 'pg_class') as comment
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'ops' and c.relkind = 'v' order by 1`);
    expect(rows.map((r) => r.view)).toEqual(expect.arrayContaining([
      'v_diag_fail_reasons', 'v_diag_freshness', 'v_diag_gap_breakdown', 'v_diag_gap_summary', 'v_diag_integrity', 'v_diag_volume_24h',
      'v_identity_driver_unlinked_activity', 'v_identity_gap_alerts', 'v_identity_gap_analysis', 'v_identity_gap_health', 'v_identity_gap_trend',
    ]));
    expect(rows.filter((r) => !r.comment || !/^One row/.test(r.comment)).map((r) => r.view)).toEqual([]);
  });

  it('every column of every ops view has a comment', async () => {
    const { rows } = await db.pool.query<{ col: string }>(
      `select c.relname || '.' || a.attname as col
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = 'ops' and c.relkind = 'v' and col_description(c.oid, a.attnum) is null order by 1`);
    expect(rows.map((r) => r.col)).toEqual([]);
  });

  it('ops.enqueue_recovery has a comment', async () => {
    const { rows } = await db.pool.query(`select obj_description('ops.enqueue_recovery(integer, text, text)'::regprocedure, 'pg_proc') as c`);
    expect(rows[0].c).toMatch(/retry_identity_matching/);
  });
});
