/*
 * Step 11 of ops.process_identity_batch: adds the batch's counts, the
 * milliseconds of each step (stats.step_ms: where the time goes, per run) and
 * its decisions per reason (stats.reasons) to the run's ledger row. The last
 * statement of a batch: two batches of a run in flight wait on this row only
 * for the other's commit.
 */
create or replace function ops.batch_record_counts(p_run_id bigint, p_processed integer, p_matched integer, p_failed integer,
  p_pending integer, p_skipped integer, p_step_ms jsonb)
returns void
language plpgsql
volatile
set search_path = pg_catalog, public
as $$
begin
  /* The batch's temporary tables, for plpgsql_check (which cannot see tables created at run time; a no-op when run). */
  perform 'PRAGMA:TABLE: batch_decisions (seq integer, lead_id text, lead_created_at timestamp, linked_person_key uuid, gap_reason text, named_person text, best_rule integer, rules json, decision text, lead_keys json, matched_driver_id text, finding_person text, match_rule text, confidence_level text, match_score integer, person_key uuid)';
  update ops.job_runs as runs
  set processed = runs.processed + p_processed,
      matched = runs.matched + p_matched,
      failed = runs.failed + p_failed,
      pending = runs.pending + p_pending,
      skipped = runs.skipped + p_skipped,
      stats = runs.stats
              || jsonb_build_object('step_ms', (
                   select jsonb_object_agg(steps.key, round(coalesce((runs.stats -> 'step_ms' ->> steps.key)::numeric, 0) + steps.value::numeric, 1))
                   from jsonb_each_text(p_step_ms) as steps))
              || jsonb_build_object('reasons', coalesce(runs.stats -> 'reasons', '{}'::jsonb) || coalesce((
                   select jsonb_object_agg(reasons.decision, coalesce((runs.stats -> 'reasons' ->> reasons.decision)::integer, 0) + reasons.n)
                   from (select decisions.decision, count(*) as n from pg_temp.batch_decisions as decisions group by decisions.decision) as reasons),
                   '{}'::jsonb))
  where runs.id = p_run_id;
end
$$;
comment on function ops.batch_record_counts(bigint, integer, integer, integer, integer, integer, jsonb) is 'Step 11 of ops.process_identity_batch: adds the batch''s counts, step timings and decisions per reason to the run''s row of ops.job_runs. Internal: called inside the recovery batch transaction only.';
