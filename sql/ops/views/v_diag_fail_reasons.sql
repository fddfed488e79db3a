/*
 * Why leads in the gap do not match, from the recovery's job rows: the reason
 * of each lead's last attempt, for leads still pending or failed. The reader
 * sorts on leads (descending) to get the top reasons.
 */
create or replace view ops.v_diag_fail_reasons as
with open_jobs as (
  select jobs.fail_reason, jobs.status, jobs.attempt_count, jobs.last_attempt_at, jobs.next_attempt_at
  from ops.identity_matching_jobs as jobs
  where jobs.status in ('pending', 'failed') and jobs.fail_reason is not null
),
counted as (
  select open_jobs.fail_reason,
         count(*)::integer as leads,
         (count(*) filter (where open_jobs.status = 'pending'))::integer as pending,
         (count(*) filter (where open_jobs.status = 'failed'))::integer as failed,
         round(avg(open_jobs.attempt_count)::numeric, 2) as avg_attempts,
         max(open_jobs.attempt_count)::integer as max_attempts,
         max(open_jobs.last_attempt_at) as last_attempt_at,
         min(open_jobs.next_attempt_at) filter (where open_jobs.status = 'pending') as next_attempt_at
  from open_jobs
  group by open_jobs.fail_reason
)
select counted.fail_reason,
       counted.leads,
       counted.pending,
       counted.failed,
       round(100.0 * counted.leads / sum(counted.leads) over (), 2) as pct_of_failing,
       counted.avg_attempts,
       counted.max_attempts,
       counted.last_attempt_at,
       counted.next_attempt_at
from counted;
comment on view ops.v_diag_fail_reasons is 'One row per fail_reason among leads recovery has not linked (job status pending or failed): how many, attempt statistics, when. Order by leads descending for the top reasons.';
comment on column ops.v_diag_fail_reasons.fail_reason is 'Reason code of the last attempt (docs/matching-rules.md, section 5): MISSING_KEYS, NO_CANDIDATES, WEAK_MATCH_ONLY, MULTIPLE_CANDIDATES, REVIEW_BAND, CONFLICTING_LINK, LEAD_NOT_FOUND, INVALID_LEAD_DATE or ERROR.';
comment on column ops.v_diag_fail_reasons.leads is 'Leads whose last attempt ended with this reason.';
comment on column ops.v_diag_fail_reasons.pending is 'Of them, still pending (will be retried after backoff).';
comment on column ops.v_diag_fail_reasons.failed is 'Of them, failed (max attempts reached or a final reason); retried only when the drivers index changes.';
comment on column ops.v_diag_fail_reasons.pct_of_failing is 'Share of all pending or failed leads with a reason, in percent.';
comment on column ops.v_diag_fail_reasons.avg_attempts is 'Average attempt_count, 2 decimals.';
comment on column ops.v_diag_fail_reasons.max_attempts is 'Largest attempt_count.';
comment on column ops.v_diag_fail_reasons.last_attempt_at is 'Most recent attempt among them.';
comment on column ops.v_diag_fail_reasons.next_attempt_at is 'Earliest scheduled retry among the pending ones (null when none is pending).';
