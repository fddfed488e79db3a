--! Previous: sha1:9416d9f5fd3fcd38adc3f3c69caff153f88e4af5
--! Hash: sha1:2cf9102a71052e0b5ce2afde7a7870cb2840196d
--! Message: inserted leads recorded as id ranges

/*
 * Recovery as data arrives (issue 17, bulk loads). The insert trigger on the
 * raw leads wrote one ops.lead_changes row per lead: a 1M-lead import took 48 %
 * longer with the trigger (one heap tuple, WAL record and index entries per
 * lead; INSERT ... SELECT never uses the multi-row heap insert). It now records
 * one row per statement and run of consecutive ids (the statement's own ids:
 * exact, never another statement's lead), and the incremental run expands the
 * ranges into ops.lead_changes (ops.expand_lead_insert_ranges) before it takes
 * the work list. Updates of key columns and the drivers' changes are still
 * recorded row by row.
 */
create table ops.lead_insert_ranges (
  id bigint generated always as identity primary key,
  first_id bigint not null,
  last_id bigint not null,
  lead_count bigint not null,
  recorded_at timestamptz not null default clock_timestamp(),
  constraint lead_insert_ranges_consecutive check (last_id >= first_id and lead_count = last_id - first_id + 1)
);
comment on table ops.lead_insert_ranges is 'Work list of inserted leads, one row per inserting statement and run of consecutive ids (public.module_ct_cabinet_leads.id from first_id to last_id, all inserted by that statement), recorded by the trigger arrival_lead_inserts; expanded into ops.lead_changes (one row per lead, the same recorded_at) by ops.expand_lead_insert_ranges when an incremental run takes the work list.';
comment on column ops.lead_insert_ranges.id is 'Order of recording.';
comment on column ops.lead_insert_ranges.first_id is 'The first id (public.module_ct_cabinet_leads.id) of the run.';
comment on column ops.lead_insert_ranges.last_id is 'The last id of the run (inclusive).';
comment on column ops.lead_insert_ranges.lead_count is 'Leads in the run: last_id - first_id + 1.';
comment on column ops.lead_insert_ranges.recorded_at is 'When the trigger recorded it (clock time of the loader''s statement): latency is measured from here.';

update ops.settings
set description = 'work_lists_drain fails when the oldest untaken row of ops.lead_changes, ops.lead_insert_ranges or ops.driver_changes is older than this many seconds: the incremental run (recover_arrivals) is not draining them.'
where key = 'alert_work_list_stale_seconds';
