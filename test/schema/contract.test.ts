import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.js';

const db = await useTestDatabase();

describe('schema contract', () => {
  it('has the tables, views and functions of the spec with their signatures', async () => {
    const rel = await db.pool.query(`select n.nspname || '.' || c.relname as name, c.relkind as kind from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname in ('public', 'canon', 'ops') and c.relkind in ('r', 'v')`);
    const names = new Map(rel.rows.map((r) => [r.name as string, r.kind as string]));
    for (const t of ['public.module_ct_cabinet_leads', 'public.drivers', 'public.summary_daily', 'canon.drivers_index', 'canon.identity_registry',
      'canon.identity_links', 'canon.identity_origin', 'canon.identity_origin_history', 'ops.identity_matching_jobs', 'ops.job_runs',
      'ops.identity_gap_daily', 'ops.settings']) expect(names.get(t), t).toBe('r');
    for (const v of ['ops.v_identity_gap_analysis', 'ops.v_identity_gap_alerts', 'ops.v_identity_gap_health', 'ops.v_identity_driver_unlinked_activity'])
      expect(names.get(v), v).toBe('v');
    const fns = await db.pool.query(`select p.oid::regprocedure::text as sig, p.provolatile as vol from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname in ('canon', 'ops')`);
    const sigs = new Map(fns.rows.map((r) => [r.sig as string, r.vol as string]));
    expect(sigs.get('canon.norm_phone(text,text)')).toBe('i');
    expect(sigs.get('canon.norm_plate(text)')).toBe('i');
    expect(sigs.get('canon.norm_name(text)')).toBe('i');
    expect(sigs.get('canon.name_tokens(text)')).toBe('i');
    expect(sigs.get('canon.name_similarity(text[],text[])')).toBe('i');
    expect(sigs.get('canon.parse_date_file(text)')).toBe('i');
    expect(sigs.get('canon.refresh_drivers_index()')).toBe('v');
    expect(sigs.get('ops.snapshot_identity_gap(date)')).toBe('v');
    expect(sigs.get('ops.process_identity_batch(bigint,integer,integer)')).toBe('v');
  });

  it('has the columns operators rely on in the gap analysis view', async () => {
    const { rows } = await db.pool.query(`select column_name from information_schema.columns where table_schema = 'ops' and table_name = 'v_identity_gap_analysis' order by ordinal_position`);
    expect(rows.map((r) => r.column_name)).toEqual(['lead_id', 'lead_date', 'person_key', 'has_identity', 'has_origin', 'is_repeat_lead', 'gap_reason', 'gap_age_days', 'risk_level', 'risk_rank', 'trips_14d']);
  });

  it('keeps one link per record and checks every enum-like column', async () => {
    const { rows } = await db.pool.query(`select conrelid::regclass::text as tbl, pg_get_constraintdef(oid) as def from pg_constraint where connamespace in ('canon'::regnamespace, 'ops'::regnamespace)`);
    const defs = rows.map((r) => `${r.tbl}: ${r.def}`).join('\n');
    // SPEC 2.2: unique (source_table, source_pk). The key leads with the id (every lookup gives both); the pair is what is unique.
    expect(defs).toMatch(/canon\.identity_links: UNIQUE \((source_table, source_pk|source_pk, source_table)\)/);
    expect(defs).toMatch(/ops\.identity_matching_jobs: UNIQUE \((source_table, source_id|source_id, source_table)\)/);
    const key = '0190f0a0-0000-7000-8000-0000000000aa';
    await db.pool.query(`insert into canon.identity_registry (person_key, confidence_level) values ($1, 'HIGH'), ('0190f0a0-0000-7000-8000-0000000000ab', 'HIGH')`, [key]);
    await db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level) values ($1, 'drivers', 'dup-1', 'MANUAL', 100, 'HIGH')`, [key]);
    // The same id under the other table is another record; the same record under another person is refused.
    await db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level) values ($1, 'module_ct_cabinet_leads', 'dup-1', 'MANUAL', 100, 'HIGH')`, [key]);
    await expect(
      db.pool.query(`insert into canon.identity_links (person_key, source_table, source_pk, match_rule, match_score, confidence_level) values ('0190f0a0-0000-7000-8000-0000000000ab', 'drivers', 'dup-1', 'MANUAL', 100, 'HIGH')`),
    ).rejects.toMatchObject({ code: '23505' });
    expect(defs).toMatch(/ops\.identity_matching_jobs: CHECK \(\(status = ANY/);
    expect(defs).toMatch(/ops\.job_runs: CHECK \(\(state = ANY/);
    expect(defs).toMatch(/canon\.identity_origin: CHECK \(\(origin_tag = ANY/);
  });

  it('has a comment on every table, view, column and function in canon and ops', async () => {
    const missing = await db.pool.query(`
      select 'relation ' || n.nspname || '.' || c.relname as what from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('canon', 'ops') and c.relkind in ('r', 'v', 'm') and obj_description(c.oid, 'pg_class') is null
      union all
      select 'column ' || n.nspname || '.' || c.relname || '.' || a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('canon', 'ops') and c.relkind in ('r', 'v', 'm') and a.attnum > 0 and not a.attisdropped and col_description(c.oid, a.attnum) is null
      union all
      select 'function ' || p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('canon', 'ops') and obj_description(p.oid, 'pg_proc') is null
      order by 1`);
    expect(missing.rows.map((r) => r.what)).toEqual([]);
  });
});
