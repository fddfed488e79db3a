/*
 * Keeps ops.lead_keys, the normalised keys of the leads that wait (pending,
 * failed: ops.job_waits), for the targeted re-open.
 *   - p_all false (an incremental refresh): normalise only the waiting leads it
 *     does not know yet, or knows under another country code. The missing ones
 *     are found first, apart: the planner otherwise joined every waiting lead
 *     to its lead row before the anti-join (3.6 s against 0.7 s at 333k
 *     waiting leads, PG 15).
 *   - p_all true (the full refresh, the nightly safety net): normalise again
 *     every waiting lead whose row changed since its keys were computed (its
 *     xmin differs: any update writes a new row version), so a key change the
 *     work lists missed lives until then at most; and drop the leads that no
 *     longer wait, so the table stays the size of the waiting set. Normalising
 *     every waiting lead instead made the nightly refresh of 1M drivers
 *     20-35 s longer on PG 15 (333k waiting leads).
 * Returns how many rows were written.
 */
create or replace function ops.refresh_lead_keys(p_all boolean)
returns bigint
language plpgsql
volatile
set search_path = pg_catalog, public
set jit = off
as $$
declare
  default_code text := ops.setting_text('default_country_code');
  n_written bigint;
begin
  /* The leads to normalise, apart (two statements: as one, the optional anti-join became a per-row sub-plan). */
  perform 'PRAGMA:TABLE: lead_keys_due (lead_id text)';
  drop table if exists pg_temp.lead_keys_due;
  if p_all then
    create temp table lead_keys_due on commit drop as
    select jobs.source_id as lead_id
    from ops.identity_matching_jobs as jobs
    join public.module_ct_cabinet_leads as cabinet_leads
      on coalesce(cabinet_leads.external_id, cabinet_leads.id::text) = jobs.source_id
    left join ops.lead_keys as known on known.lead_id = jobs.source_id
    where jobs.source_table = 'module_ct_cabinet_leads' and ops.job_waits(jobs.status)
      and (known.lead_id is null or known.country_code is distinct from default_code or not coalesce(known.lead_xmin = cabinet_leads.xmin, false));
  else
    create temp table lead_keys_due on commit drop as
    select jobs.source_id as lead_id
    from ops.identity_matching_jobs as jobs
    where jobs.source_table = 'module_ct_cabinet_leads' and ops.job_waits(jobs.status)
      and not exists (select 1 from ops.lead_keys as known where known.lead_id = jobs.source_id and known.country_code = default_code);
  end if;
  analyze pg_temp.lead_keys_due;

  insert into ops.lead_keys as keys (lead_id, phone_norm, plate_norm, country_code, lead_xmin)
  select due.lead_id,
         canon.norm_phone(cabinet_leads.park_phone, default_code),
         canon.norm_plate(cabinet_leads.asset_plate_number),
         default_code,
         cabinet_leads.xmin
  from lead_keys_due as due
  join public.module_ct_cabinet_leads as cabinet_leads
    on coalesce(cabinet_leads.external_id, cabinet_leads.id::text) = due.lead_id
  on conflict (lead_id) do update
  set phone_norm = excluded.phone_norm, plate_norm = excluded.plate_norm, country_code = excluded.country_code, lead_xmin = excluded.lead_xmin,
      computed_at = now();
  get diagnostics n_written = row_count;

  if p_all then
    delete from ops.lead_keys as keys
    where not exists (
      select 1 from ops.identity_matching_jobs as jobs
      where jobs.source_table = 'module_ct_cabinet_leads' and jobs.source_id = keys.lead_id
        and ops.job_waits(jobs.status));
  end if;
  if n_written > 10000 then
    analyze ops.lead_keys;
  end if;
  return n_written;
end
$$;
comment on function ops.refresh_lead_keys(boolean) is 'Keeps ops.lead_keys for the waiting (pending, failed) leads: p_all false normalises only those it lacks; p_all true (the full drivers index refresh) normalises again the waiting leads whose row changed (xmin) and drops the leads that no longer wait. Returns the rows written.';
