--! Previous: sha1:046f2c1a80533212c6b19e240c7e940412433cb9
--! Hash: sha1:9416d9f5fd3fcd38adc3f3c69caff153f88e4af5
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

/*
 * The normalised keys of the leads that wait (pending in backoff, failed), so
 * that a changed driver finds the leads it meets by an index probe instead of
 * normalising every waiting lead's phone and plate on each refresh (1M leads,
 * 333k waiting, PG 15: 12.3-12.9 s per refresh of 1,000 drivers, almost all
 * of it norm_phone's regular expressions). Kept by ops.refresh_lead_keys: an
 * incremental refresh adds the waiting leads it does not know yet; a lead
 * whose keys change is dropped by the incremental run (its work list names
 * it); the full refresh normalises again every waiting lead whose row changed
 * since (its xmin differs), so a key change the work lists missed lives at
 * most until the nightly refresh.
 */
create table ops.lead_keys (
  lead_id text primary key,
  phone_norm text,
  plate_norm text,
  country_code text,
  lead_xmin xid,
  computed_at timestamptz not null default now()
);
create index lead_keys_phone_norm_idx on ops.lead_keys (phone_norm) where phone_norm is not null;
create index lead_keys_plate_norm_idx on ops.lead_keys (plate_norm) where plate_norm is not null;
comment on table ops.lead_keys is 'The normalised blocking keys of leads that waited for new evidence (pending or failed), one row per lead: what a changed driver is joined with to re-open only the leads it meets. Derived; rebuilt by the full drivers index refresh.';
comment on column ops.lead_keys.lead_id is 'The lead (lead_id).';
comment on column ops.lead_keys.phone_norm is 'canon.norm_phone(park_phone, country_code): the key of the phone rules.';
comment on column ops.lead_keys.plate_norm is 'canon.norm_plate(asset_plate_number): the key of the plate rules.';
comment on column ops.lead_keys.country_code is 'The default_country_code the phone was normalised with (a row of another code is computed again).';
comment on column ops.lead_keys.lead_xmin is 'xmin of the lead''s row the keys were computed from: any update of the lead gives its row another, so the full refresh normalises only the leads whose row changed.';
comment on column ops.lead_keys.computed_at is 'When the keys were computed.';

comment on column canon.drivers_index_state.last_refreshed_at is 'End of the last full refresh (canon.refresh_drivers_index), whether or not it changed anything; the incremental refresh of changed drivers does not move it.';
comment on column canon.drivers_index_state.content_changed_at is 'End of the last refresh (full or incremental) that inserted, changed or deleted a row. Re-opening is targeted: only the leads a changed driver meets are re-opened (ops.reopen_leads_for_changed_drivers).';
comment on column canon.drivers_index_state.row_count is 'Rows in canon.drivers_index after the last refresh (full: counted; incremental: adjusted by the rows inserted and deleted).';
comment on column ops.identity_matching_jobs.next_attempt_at is 'pending: not retried before this (exponential backoff); failed: null, or when a changed driver meeting the lead''s keys re-opened it (due from then on, attempt count unchanged).';
