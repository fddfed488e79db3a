/*
 * The recovery of one batch: the leads of ops.recovery_queue with
 * p_from_seq <= seq <= p_to_seq, in set-based statements (no loop over leads),
 * as a list of steps (each a function with its own test under
 * test/sql/ops/functions/). The steps talk through the batch's temporary
 * tables (pg_temp.batch_*), dropped at commit.
 *
 * No lock and no re-check: ops.plan_recovery packs whole components into
 * batches, so no other batch of the run reads or writes this batch's leads,
 * candidate drivers or persons, and the recovery lock keeps other runs out.
 * The unique keys of links and job rows stay as a backstop (a lead linked by
 * hand meanwhile): the runner retries the batch whole after planning its leads
 * again (ops.replan_batch).
 *
 * The caller runs it in one transaction, so a batch commits whole or not at all.
 */
create or replace function ops.process_identity_batch(p_run_id bigint, p_from_seq integer, p_to_seq integer)
returns table (processed integer, matched integer, failed integer, pending integer, skipped integer)
language plpgsql
volatile
set search_path = pg_catalog, public
set client_min_messages = warning
/* JIT, on by default on a stock server, compiled the origins step of 200,000 leads for 25.9 s instead of 1.3 s
   (PERFORMANCE-NOTES): a batch's statements are short and many, never worth compiling. */
set jit = off
/* A batch's statements touch thousands of rows through indexes: parallel workers only added their start-up (the lead
   lookups took 93 us each in workers against 5 us in the backend at 1M leads), and the other lanes need the cores. */
set max_parallel_workers_per_gather = 0
/* The batch's analyses of its own temporary tables (5,000 rows; keys that are unique or take a handful of values)
   sample 3,000 rows instead of all 5,000 and keep 10 common values: 16.8 -> 11 ms a batch, the same plans. */
set default_statistics_target = 10
/* A batch probes indexes whose pages the run keeps in memory. A stock server's random_page_cost of 4 (the embedded
   server's is 1.1) priced a batch's 2,540 phone probes above a hash of the whole drivers index: at 200k drivers on
   PG 15 the candidates statement took 148 ms a batch, hashing 200,000 index rows for 2,387 pairs. */
set random_page_cost = 1.1
as $$
declare
  target_park text := ops.setting_text('target_park_id');
  counts record;
  step_started timestamptz := clock_timestamp();
  step_ms jsonb := '{}'::jsonb;
begin
  /* 1. The leads: queue rows taken, keys normalised, gap state and job row read (pg_temp.batch_leads). */
  perform ops.batch_leads(p_run_id, p_from_seq, p_to_seq, ops.setting_text('default_country_code'));
  step_ms := step_ms || jsonb_build_object('leads', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /* 2. Candidates per rule, as persons (pg_temp.batch_candidates). */
  perform ops.batch_find_candidates(target_park, ops.setting_integer('plate_hire_window_days_before'),
                                    ops.setting_integer('plate_hire_window_days_after'));
  step_ms := step_ms || jsonb_build_object('candidates', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /* 3, 4. Verdicts per rule, one decision per lead, a new person per unlinked driver a link names. */
  perform ops.batch_decide(ops.setting_numeric('name_similarity_threshold'), ops.setting_numeric('ambiguity_margin'));
  step_ms := step_ms || jsonb_build_object('decisions', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /* 5, 6. The new persons and their drivers' links. */
  perform ops.batch_register_new_persons();
  step_ms := step_ms || jsonb_build_object('new_persons', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();
  perform ops.batch_driver_links(p_run_id);
  step_ms := step_ms || jsonb_build_object('driver_links', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /* 7. The leads' links. */
  perform ops.batch_lead_links(p_run_id, target_park);
  step_ms := step_ms || jsonb_build_object('lead_links', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /* 8. Origins: of the new persons, then of the existing persons linked or repaired. */
  perform ops.batch_new_person_origins(p_run_id);
  perform ops.batch_existing_origins(p_run_id);
  step_ms := step_ms || jsonb_build_object('origins', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /* 9. Findings: repaired leads whose matching named another person. */
  perform ops.batch_link_findings(p_run_id);

  /* 10. Job rows. */
  counts := ops.batch_job_rows(p_run_id, ops.setting_integer('max_attempts'), ops.setting_integer('retry_backoff_base_minutes'),
                               ops.setting_integer('retry_backoff_cap_minutes'));
  step_ms := step_ms || jsonb_build_object('job_rows', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));
  step_started := clock_timestamp();

  /* 10b. The review store: the candidates of the leads left for a reviewer. */
  perform ops.batch_review_candidates(p_run_id, target_park, ops.setting_integer('plate_hire_window_days_before'),
                                      ops.setting_integer('plate_hire_window_days_after'), ops.setting_numeric('name_similarity_threshold'));
  step_ms := step_ms || jsonb_build_object('review', round(extract(epoch from clock_timestamp() - step_started) * 1000, 1));

  /* 11. The run's counts. */
  perform ops.batch_record_counts(p_run_id, counts.processed, counts.matched, counts.failed, counts.pending, counts.skipped, step_ms);

  return query select counts.processed, counts.matched, counts.failed, counts.pending, counts.skipped;
end
$$;
comment on function ops.process_identity_batch(bigint, integer, integer) is 'Recovers the leads of a run''s queue between two seq numbers (one batch of whole components): matching by the rules of docs/matching-rules.md, persons, links, origins, findings, job rows and the run''s counts, set-based. Call it in its own transaction.';
