import type pg from 'pg';
import { refreshIndex } from './fixtures.js';

/** Everything recovery writes, in a comparable form (person keys replaced by the driver each person stands for). */
export async function recoveredState(db: pg.Pool | pg.ClientBase) {
  const { rows } = await db.query(`
    with person_driver as (
      select person_key, min(source_pk) as driver_id from canon.identity_links where source_table = 'drivers' group by person_key
    )
    select
      (select coalesce(json_agg(json_build_object('lead', l.source_pk, 'driver', pd.driver_id, 'rule', l.match_rule, 'score', l.match_score) order by l.source_pk), '[]')
         from canon.identity_links l left join person_driver pd using (person_key) where l.source_table = 'module_ct_cabinet_leads') as lead_links,
      (select count(*)::int from canon.identity_links where source_table = 'drivers') as driver_links,
      (select count(*)::int from canon.identity_registry) as persons,
      (select coalesce(json_agg(json_build_object('driver', pd.driver_id, 'origin', o.origin_source_id) order by pd.driver_id), '[]')
         from canon.identity_origin o left join person_driver pd using (person_key)) as origins,
      (select coalesce(json_agg(json_build_object('lead', j.source_id, 'status', j.status, 'reason', j.fail_reason, 'rule', j.match_rule) order by j.source_id), '[]')
         from ops.identity_matching_jobs j) as jobs`);
  return rows[0] as { lead_links: unknown[]; driver_links: number; persons: number; origins: unknown[]; jobs: unknown[] };
}

/** n leads over n drivers: a third by phone, a third by plate and name, a third with nothing to find. */
export async function seedBulk(db: pg.Pool, n: number): Promise<void> {
  await db.query(`
    insert into public.drivers (driver_id, park_id, phone, car_number, full_name, hire_date)
    select 'drv-' || g, 'park-' || (g % 3), '519' || lpad(g::text, 8, '0'), 'P' || lpad(g::text, 6, '0'),
           'APELLIDO' || g || ' SEGUNDO' || g || ' NOMBRE' || g, date '2026-10-01'
    from generate_series(1, $1) as g`, [n]);
  await db.query(`
    insert into public.module_ct_cabinet_leads (external_id, lead_created_at, park_phone, first_name, last_name, asset_plate_number)
    select md5('lead-' || g),
           timestamp '2026-10-15 10:00' + (g % 20) * interval '1 day',
           case when g % 3 = 0 then '+51 9' || lpad(g::text, 8, '0') end,
           'Nombre' || g, 'Apellido' || g || ' Segundo' || g,
           case when g % 3 = 1 then 'p-' || lpad(g::text, 6, '0') end
    from generate_series(1, $1) as g`, [n]);
  await refreshIndex(db);
}

/** Empties what recovery writes (links, persons, origins, job rows, runs, queue), keeping leads, drivers and the index. */
export async function resetRecoveryWrites(db: pg.Pool): Promise<void> {
  await db.query(`truncate canon.identity_links, canon.identity_origin, canon.identity_origin_history, canon.identity_registry,
    ops.identity_matching_jobs, ops.job_runs, ops.recovery_queue cascade`);
  await db.query(`delete from graphile_worker._private_jobs`);
}
