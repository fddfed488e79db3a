/*
 * The trigger the ledger records for a run (ops.start_run, ops.reject_run):
 * a worker job's is cron when Graphile's crontab queued it (the worker passes
 * cron), else the one ops.enqueue_job recorded in ops.job_triggers (a payload
 * cannot claim one), else sql (queued with graphile_worker.add_job). A run
 * with no worker job (idgap recover, the demo) keeps the trigger its caller
 * gives.
 */
create or replace function ops.run_trigger(p_trigger text, p_worker_job_id bigint)
returns text
language sql
stable
set search_path = pg_catalog
as $$
  select case when p_trigger = 'cron' or p_worker_job_id is null then p_trigger
              else coalesce((select triggers.trigger from ops.job_triggers as triggers where triggers.job_id = p_worker_job_id), 'sql') end
$$;
comment on function ops.run_trigger(text, bigint) is 'The ledger''s trigger of a run: p_trigger for cron or without a worker job, else the trigger ops.enqueue_job recorded for the job in ops.job_triggers, else sql.';
