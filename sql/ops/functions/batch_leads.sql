/*
 * Step 1 of ops.process_identity_batch: takes the batch's queue rows (deletes
 * them: a batch given the same range waits for this one, then finds nothing;
 * back if the batch rolls back) into pg_temp.batch_leads, one row per lead
 * with its keys normalised by the same functions as the drivers index (the
 * plan's, carried by the queue: the keys its component was formed on; a row
 * queued without them normalises the lead's own), its gap
 * state (ops.lead_gap_state) and its job row as it is (read only for the leads
 * that had one when the run planned them: the gate is a one-time filter above
 * the index probe, OFFSET 0 keeps the sub-select). Nothing else of the run
 * writes these leads, their persons or their candidate drivers
 * (ops.plan_recovery's components), so what is read here holds for the batch.
 */
create or replace function ops.batch_leads(p_run_id bigint, p_from_seq integer, p_to_seq integer, p_country_code text)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
set client_min_messages = warning
as $$
declare
  taken integer;
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: batch_leads (seq integer, lead_id text, lead_found boolean, lead_created_at timestamp, lead_date date, phone_norm text, plate_norm text, lead_name text, linked_person_key uuid, origin_tag text, origin_source_id text, origin_decided_by text, gap_reason text, job_id bigint, job_status text, job_attempts integer)';
  drop table if exists pg_temp.batch_leads;
  create temp table batch_leads on commit drop as
  with taken as (
    delete from ops.recovery_queue as queue
    where queue.run_id = p_run_id and queue.seq between p_from_seq and p_to_seq
    returning queue.seq, queue.lead_id, queue.has_job, queue.phone_norm, queue.plate_norm
  ),
  found as (
    select distinct on (taken.lead_id)
           taken.seq, taken.lead_id, taken.has_job, taken.phone_norm, taken.plate_norm, cabinet_leads.id as lead_pk, cabinet_leads.lead_created_at,
           cabinet_leads.park_phone, cabinet_leads.asset_plate_number,
           concat_ws(' ', cabinet_leads.first_name, cabinet_leads.middle_name, cabinet_leads.last_name) as lead_name
    from taken
    left join public.module_ct_cabinet_leads as cabinet_leads
      on coalesce(cabinet_leads.external_id, cabinet_leads.id::text) = taken.lead_id
    order by taken.lead_id, (cabinet_leads.external_id is not null) desc, taken.seq
  )
  select found.seq,
         found.lead_id,
         found.lead_pk is not null as lead_found,
         found.lead_created_at,
         found.lead_created_at::date as lead_date,
         coalesce(found.phone_norm, canon.norm_phone(found.park_phone, p_country_code)) as phone_norm,
         coalesce(found.plate_norm, canon.norm_plate(found.asset_plate_number)) as plate_norm,
         /* The raw name stays inside the batch's temporary tables; its tokens are computed only against a plate candidate. */
         found.lead_name,
         state.linked_person_key,
         state.origin_tag,
         state.origin_source_id,
         state.origin_decided_by,
         state.gap_reason,
         jobs.id as job_id,
         jobs.status as job_status,
         coalesce(jobs.attempt_count, 0) as job_attempts
  from found
  cross join lateral ops.lead_gap_state(found.lead_id, found.lead_pk is not null) as state
  left join lateral (
    select jobs.id, jobs.status, jobs.attempt_count
    from ops.identity_matching_jobs as jobs
    where found.has_job and jobs.source_table = 'module_ct_cabinet_leads' and jobs.source_id = found.lead_id
    offset 0
  ) as jobs on true;
  get diagnostics taken = row_count;
  /* Statistics on the columns joined and filtered on only (the names are costly to analyse and never joined). */
  analyze pg_temp.batch_leads (lead_id, lead_found, gap_reason, phone_norm, plate_norm, linked_person_key);
  return taken;
end
$$;
comment on function ops.batch_leads(bigint, integer, integer, text) is 'Step 1 of ops.process_identity_batch: takes the queue rows p_from_seq..p_to_seq of run p_run_id into pg_temp.batch_leads (normalised keys, gap state, job row); returns how many leads. Internal: called inside the batch transaction only.';
