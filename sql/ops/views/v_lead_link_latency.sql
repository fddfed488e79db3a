/*
 * Latency of recovery as data arrives: from the moment the work list
 * (ops.lead_changes) recorded a lead to its link. A lead recorded twice (an
 * insert, then a key updated) counts from its first record still kept; a lead
 * linked before it was recorded (a key of a linked lead updated) has no
 * latency. Rows live as long as the work list keeps them
 * (arrival_work_list_retention_hours).
 */
create or replace view ops.v_lead_link_latency as
with changes as (
  select changes.id, changes.lead_id, changes.recorded_at, changes.taken_at, changes.run_id
  from ops.lead_changes as changes
),
first_records as (
  select changes.id, changes.lead_id, changes.recorded_at, changes.taken_at, changes.run_id
  from changes
  where not exists (select 1 from ops.lead_changes as earlier where earlier.lead_id = changes.lead_id and earlier.id < changes.id)
),
lead_links as (
  select links.source_pk as lead_id, links.linked_at, links.match_rule, links.run_id
  from canon.identity_links as links
  where links.source_table = 'module_ct_cabinet_leads'
)
select first_records.lead_id,
       first_records.recorded_at,
       first_records.taken_at,
       first_records.run_id as taken_by_run_id,
       lead_links.linked_at,
       lead_links.match_rule,
       lead_links.run_id as linked_by_run_id,
       case when lead_links.linked_at is null then 'waiting'
            when lead_links.linked_at < first_records.recorded_at then 'linked_before'
            else 'linked' end as state,
       case when lead_links.linked_at >= first_records.recorded_at
            then round(extract(epoch from lead_links.linked_at - first_records.recorded_at)::numeric, 3) end as latency_seconds
from first_records
left join lead_links on lead_links.lead_id = first_records.lead_id;
comment on view ops.v_lead_link_latency is 'One row per lead kept in the work list ops.lead_changes (its first record): when it was recorded and taken, when it was linked, and the latency from record to link in seconds.';
comment on column ops.v_lead_link_latency.lead_id is 'The lead (lead_id).';
comment on column ops.v_lead_link_latency.recorded_at is 'When the work list first recorded it (the trigger''s clock time).';
comment on column ops.v_lead_link_latency.taken_at is 'When an incremental run took that record; null while waiting.';
comment on column ops.v_lead_link_latency.taken_by_run_id is 'ops.job_runs.id of the recover_arrivals run that took it.';
comment on column ops.v_lead_link_latency.linked_at is 'When its link was written (canon.identity_links.linked_at); null while unlinked.';
comment on column ops.v_lead_link_latency.match_rule is 'The rule of its link.';
comment on column ops.v_lead_link_latency.linked_by_run_id is 'ops.job_runs.id of the run that linked it (recover_arrivals, or a full run).';
comment on column ops.v_lead_link_latency.state is 'linked (after it was recorded), waiting (no link yet) or linked_before (already linked when recorded: no latency).';
comment on column ops.v_lead_link_latency.latency_seconds is 'linked_at - recorded_at in seconds (state linked only).';
