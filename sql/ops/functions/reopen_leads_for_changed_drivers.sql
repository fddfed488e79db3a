/*
 * Targeted re-open (SPEC 3.4): a changed driver is new evidence only for the
 * leads whose keys meet its old or new keys under a rule of the catalogue.
 * Reads pg_temp.drivers_index_changes (the old and new rows of the drivers a
 * refresh changed, canon.refresh_drivers_index_of) and makes the job rows of
 * the pending (backed off) and failed leads they meet due now: next_attempt_at
 * = now(), status and attempt_count unchanged (ops.plan_recovery takes a
 * failed row whose next_attempt_at has passed). No other job row is written.
 *
 * Cost: only the leads whose job row waits (pending in backoff, failed not yet
 * re-opened) are normalised, through the open job rows index; the leads with no
 * job row or already due need no re-open. A rule with a blocking key joins its
 * key here with no change, as long as the lead side below carries that key
 * (a key without a column here fails loudly rather than re-opening nothing).
 */
create or replace function ops.reopen_leads_for_changed_drivers()
returns bigint
language plpgsql
volatile
set search_path = pg_catalog, public
set jit = off
as $$
declare
  country_code text := ops.setting_text('default_country_code');
  blocking_key text;
  n_reopened bigint;
begin
  /* The temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: drivers_index_changes (version text, driver_id text, park_id text, phone_norm text, license_norm text, plate_norm text, name_norm text, name_tokens text[], hire_date date)';
  perform 'PRAGMA:TABLE: reopen_waiting (job_id bigint, phone_norm text, plate_norm text)';
  perform 'PRAGMA:TABLE: reopen_jobs (job_id bigint)';
  perform 'PRAGMA:TABLE: reopened_leads (lead_id text)';
  /* The leads re-opened, for the caller's plan (ops.plan_arrivals). */
  drop table if exists pg_temp.reopened_leads;
  create temp table reopened_leads (lead_id text not null) on commit drop;
  if not exists (select 1 from pg_temp.drivers_index_changes) then
    return 0;
  end if;

  drop table if exists pg_temp.reopen_waiting, pg_temp.reopen_jobs;
  create temp table reopen_waiting on commit drop as
  select jobs.id as job_id,
         canon.norm_phone(cabinet_leads.park_phone, country_code) as phone_norm,
         canon.norm_plate(cabinet_leads.asset_plate_number) as plate_norm
  from ops.identity_matching_jobs as jobs
  join public.module_ct_cabinet_leads as cabinet_leads
    on coalesce(cabinet_leads.external_id, cabinet_leads.id::text) = jobs.source_id
  where jobs.source_table = 'module_ct_cabinet_leads'
    and ((jobs.status = 'pending' and jobs.next_attempt_at > now())
         or (jobs.status = 'failed' and jobs.next_attempt_at is null));
  analyze pg_temp.reopen_waiting;

  create temp table reopen_jobs (job_id bigint not null) on commit drop;
  /* One join a blocking key of the catalogue, on the changed drivers' old and new rows alike. */
  for blocking_key in
    select distinct rules.blocking_key from ops.match_rules as rules where rules.kind = 'match' and rules.blocking_key is not null
    order by 1
  loop
    execute format($reopen$
      insert into reopen_jobs (job_id)
      select waiting.job_id
      from reopen_waiting as waiting
      join pg_temp.drivers_index_changes as changes on changes.%1$I = waiting.%1$I
      where waiting.%1$I is not null
      $reopen$, blocking_key);
  end loop;

  with reopened as (
    update ops.identity_matching_jobs as jobs
    set next_attempt_at = now()
    where jobs.id in (select reopen.job_id from reopen_jobs as reopen)
    returning jobs.source_id
  )
  insert into reopened_leads (lead_id)
  select reopened.source_id from reopened;
  get diagnostics n_reopened = row_count;
  return n_reopened;
end
$$;
comment on function ops.reopen_leads_for_changed_drivers() is 'Makes due now (next_attempt_at = now(), status and attempt count unchanged) the pending and failed leads whose keys meet the old or new keys of the drivers in pg_temp.drivers_index_changes under a rule of ops.match_rules; returns how many and lists their lead_id in pg_temp.reopened_leads. Called by canon.refresh_drivers_index_of inside its transaction.';
