/*
 * The plan of an incremental run (task recover_arrivals), in one transaction:
 *   1. take the work lists: the ranges of inserted leads are expanded into
 *      ops.lead_changes first (ops.expand_lead_insert_ranges), then every untaken row of ops.driver_changes and
 *      ops.lead_changes gets the run's id and taken_at (rows recorded after
 *      this statement's snapshot stay for the next run), and so does every
 *      row taken by a recover_arrivals run that failed within the retention
 *      (killed or disconnected after its take: its leads may not have been
 *      processed; those that were are resolved and simply not planned);
 *   2. forget the taken leads' ops.lead_keys (their keys may have changed), and
 *      refresh the drivers index for the changed drivers only
 *      (canon.refresh_drivers_index_of, which re-opens the pending and failed
 *      leads their old or new keys meet);
 *   3. plan (ops.plan_recovery with p_lead_ids) the taken leads that are in
 *      the gap, the re-opened leads, and the leads an incremental run that
 *      ended without finishing (killed, lost its connection: failed by
 *      ops.fail_abandoned_runs) left in its queue, so a killed run loses
 *      nothing it took: the rest of the gap is never read;
 *   4. prune the work-list rows taken longer ago than
 *      arrival_work_list_retention_hours (kept that long for the latency view).
 * A taken lead already resolved is not planned (it is simply done). The caller
 * holds the recovery lock (ops.plan_recovery checks it): runs never overlap.
 */
create or replace function ops.plan_arrivals(p_run_id bigint, p_batch_size integer default 5000)
returns table (leads_taken bigint, drivers_taken bigint, index_inserted bigint, index_updated bigint, index_deleted bigint, reopened bigint, planned integer)
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  took_at timestamptz := clock_timestamp();
  retention interval := make_interval(hours => ops.setting_integer('arrival_work_list_retention_hours'));
  failed_runs bigint[];
  driver_ids text[];
  lead_ids text[];
  n_drivers bigint;
  n_leads bigint;
  refreshed record;
begin
  perform 'PRAGMA:TABLE: reopened_leads (lead_id text)';
  select coalesce(array_agg(runs.id), '{}') into failed_runs
  from ops.job_runs as runs
  where runs.task = 'recover_arrivals' and runs.state = 'failed' and runs.finished_at > took_at - retention;
  perform ops.expand_lead_insert_ranges();
  with taken as (
    update ops.driver_changes as changes
    set run_id = p_run_id, taken_at = took_at
    where changes.taken_at is null or changes.run_id = any (failed_runs)
    returning changes.driver_id
  )
  select count(*), coalesce(array_agg(distinct taken.driver_id), '{}') into n_drivers, driver_ids from taken;
  with taken as (
    update ops.lead_changes as changes
    set run_id = p_run_id, taken_at = took_at
    where changes.taken_at is null or changes.run_id = any (failed_runs)
    returning changes.lead_id
  )
  select count(*), coalesce(array_agg(distinct taken.lead_id), '{}') into n_leads, lead_ids from taken;

  leads_taken := n_leads;
  drivers_taken := n_drivers;
  index_inserted := 0;
  index_updated := 0;
  index_deleted := 0;
  reopened := 0;
  /* The taken leads' keys may have changed: known again when they next wait (ops.reopen_leads_for_changed_drivers). */
  delete from ops.lead_keys as keys where keys.lead_id in (select unnest(lead_ids));
  if cardinality(driver_ids) > 0 then
    select * into refreshed from canon.refresh_drivers_index_of(driver_ids);
    index_inserted := refreshed.inserted;
    index_updated := refreshed.updated;
    index_deleted := refreshed.deleted;
    reopened := refreshed.reopened;
    select lead_ids || coalesce(array_agg(leads.lead_id), '{}') into lead_ids from pg_temp.reopened_leads as leads;
  end if;

  /* What an incremental run that did not finish left in its queue (ops.plan_recovery clears those rows next). */
  select lead_ids || coalesce(array_agg(queue.lead_id), '{}') into lead_ids
  from ops.recovery_queue as queue
  join ops.job_runs as runs on runs.id = queue.run_id
  where runs.task = 'recover_arrivals' and runs.state <> 'running';

  planned := 0;
  if cardinality(lead_ids) > 0 then
    planned := ops.plan_recovery(p_run_id, null, null, null, null, null, p_batch_size, lead_ids);
  end if;

  delete from ops.lead_changes as changes where changes.taken_at < took_at - retention;
  delete from ops.driver_changes as changes where changes.taken_at < took_at - retention;
  return next;
end
$$;
comment on function ops.plan_arrivals(bigint, integer) is 'The plan of an incremental run: takes the work lists (ops.driver_changes, ops.lead_changes after expanding ops.lead_insert_ranges into it: untaken rows, and rows of recover_arrivals runs that failed), refreshes the changed drivers'' index rows (re-opening only the leads they meet), plans the taken leads in the gap and the re-opened ones, prunes taken rows past the retention; returns the counts. The caller holds the recovery lock.';
