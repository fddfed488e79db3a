/*
 * Plans the leads of one batch range again before the runner retries the batch
 * whole after a unique violation (a link or a job row written by hand since the
 * plan): whether each lead has a job row now (ops.recovery_queue.has_job, which
 * gates the batch's read of the job rows). The batch reads every other state
 * afresh anyway. Returns how many queue rows changed.
 */
create or replace function ops.replan_batch(p_run_id bigint, p_from_seq integer, p_to_seq integer)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
declare
  changed integer;
begin
  update ops.recovery_queue as queue
  set has_job = exists (select 1 from ops.identity_matching_jobs as jobs
                        where jobs.source_table = 'module_ct_cabinet_leads' and jobs.source_id = queue.lead_id)
  where queue.run_id = p_run_id and queue.seq between p_from_seq and p_to_seq;
  get diagnostics changed = row_count;
  return changed;
end
$$;
comment on function ops.replan_batch(bigint, integer, integer) is 'Reads again, for the queue rows p_from_seq..p_to_seq of run p_run_id, whether each lead has a job row (has_job), before a batch that failed on a unique key is retried whole.';
