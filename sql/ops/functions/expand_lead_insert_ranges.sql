/*
 * The inserted leads of the work list, one row each: every range the insert
 * trigger recorded (ops.lead_insert_ranges, committed with its leads) becomes
 * one ops.lead_changes row per lead still there, with the range's recorded_at
 * (latency counts from the loader's statement), in the order of recording; the
 * ranges go. A lead deleted since is simply not there; a lead whose external_id
 * changed since is recorded by its lead_id now (the update trigger recorded
 * both). Ranges committed after this statement's snapshot stay for the next
 * call. Called by ops.plan_arrivals before it takes the work list; returns the
 * number of lead rows written.
 */
create or replace function ops.expand_lead_insert_ranges()
returns bigint
language plpgsql
volatile
set search_path = pg_catalog, public
set jit = off
as $$
declare
  n_expanded bigint;
begin
  with ranges as (
    delete from ops.lead_insert_ranges as ranges
    returning ranges.id, ranges.first_id, ranges.last_id, ranges.recorded_at
  )
  insert into ops.lead_changes (lead_id, recorded_at)
  select coalesce(leads.external_id, leads.id::text), ranges.recorded_at
  from ranges
  join public.module_ct_cabinet_leads as leads on leads.id between ranges.first_id and ranges.last_id
  order by ranges.id, leads.id;
  get diagnostics n_expanded = row_count;
  return n_expanded;
end
$$;
comment on function ops.expand_lead_insert_ranges() is 'Expands the ranges of inserted leads (ops.lead_insert_ranges) into ops.lead_changes, one row per lead with the range''s recorded_at, and deletes them; returns the rows written. Called by ops.plan_arrivals before it takes the work list.';
