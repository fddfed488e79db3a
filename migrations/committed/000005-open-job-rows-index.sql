--! Previous: sha1:414cae6fff8d685f406823e8485034adfa01fd08
--! Hash: sha1:b42fa1c78cf45dbf5f1dede7e769ab21f0ef06f4
--! Message: open job rows index

/*
 * Job rows are read by their lead (the unique key) or, for the open ones, by
 * status: the due retries (ops.plan_recovery's pending leads whose lead was
 * deleted), ops.v_diag_fail_reasons (pending and failed). No reader looks up
 * matched or skipped rows by status (those are nine in ten of a recovery's
 * rows), so the status index keeps the open rows only: a 1M-lead first run
 * inserts ~100,000 entries instead of 1,000,000 (job rows step 45 -> 42 ms a
 * 5,000-lead batch at 1M).
 */
drop index if exists ops.identity_matching_jobs_status_next_idx;
create index if not exists identity_matching_jobs_open_idx on ops.identity_matching_jobs (status, next_attempt_at)
  where status in ('pending', 'failed');
comment on index ops.identity_matching_jobs_open_idx is 'The open job rows (pending, failed) by status and next attempt: due retries and the fail-reason breakdown.';
