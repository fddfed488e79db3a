--! Previous: sha1:0f6f9bd01304f9090abaff2f0276d38ca6a1bfd9
--! Hash: sha1:0a3f7e8d29cb2b18e57afd62ca7e21f7426e1946
--! Message: incremental drivers index, targeted re-open, arrival latency

/*
 * Recovery as data arrives (issue 17, parts 2-5). The old signature of
 * ops.plan_recovery goes: the function file adds p_lead_ids (the incremental
 * run's leads), and a second overload would make every positional call
 * ambiguous.
 */
drop function if exists ops.plan_recovery(bigint, integer, text, text, date, date, integer);

insert into ops.settings (key, value, value_type, description) values
  ('alert_work_list_stale_seconds', '300', 'integer', 'work_lists_drain fails when the oldest untaken row of ops.lead_changes or ops.driver_changes is older than this many seconds: the incremental run (recover_arrivals) is not draining them.'),
  ('arrival_work_list_retention_hours', '48', 'integer', 'Rows of ops.lead_changes and ops.driver_changes taken longer ago than this are pruned by the incremental run (kept that long for ops.v_lead_link_latency).')
on conflict (key) do nothing;

/* The incremental run prunes taken rows by when they were taken. */
create index lead_changes_taken_at_idx on ops.lead_changes (taken_at) where taken_at is not null;
create index driver_changes_taken_at_idx on ops.driver_changes (taken_at) where taken_at is not null;

/*
 * The latency view and its summary read the leads recorded in the last hour or
 * day. recorded_at grows with the insertion order, so a BRIN index (a few pages,
 * next to nothing per insert for the triggers) finds them.
 */
create index lead_changes_recorded_at_brin on ops.lead_changes using brin (recorded_at);

comment on column canon.drivers_index_state.last_refreshed_at is 'End of the last full refresh (canon.refresh_drivers_index), whether or not it changed anything; the incremental refresh of changed drivers does not move it.';
comment on column canon.drivers_index_state.content_changed_at is 'End of the last refresh (full or incremental) that inserted, changed or deleted a row. Re-opening is targeted: only the leads a changed driver meets are re-opened (ops.reopen_leads_for_changed_drivers).';
comment on column canon.drivers_index_state.row_count is 'Rows in canon.drivers_index after the last refresh (full: counted; incremental: adjusted by the rows inserted and deleted).';
comment on column ops.identity_matching_jobs.next_attempt_at is 'pending: not retried before this (exponential backoff); failed: null, or when a changed driver meeting the lead''s keys re-opened it (due from then on, attempt count unchanged).';
