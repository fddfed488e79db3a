/*
 * The one definition of "max attempts -> failed": a lead whose attempt did not
 * link (a reason code, or ERROR) and has now had p_attempts attempts is failed
 * from max attempts on, else pending until its backoff has passed
 * (ops.retry_backoff). The caller passes the settings, read once per statement;
 * one expression, so it is inlined into the batch's job-row statement
 * (ops.batch_job_rows) and ops.record_lead_error alike.
 */
/*
 * Declared as a set of one row, not OUT parameters: PostgreSQL inlines only a
 * set-returning SQL function called in FROM; as a record-returning one it ran
 * the SQL-function executor for every row (200,000 rows on PG 15: 1.28-1.73 s
 * against 0.09 s inlined).
 */
create or replace function ops.job_after_miss(p_attempts integer, p_max_attempts integer, p_base_minutes integer, p_cap_minutes integer)
returns table (status text, next_attempt_at timestamptz)
language sql
stable
parallel safe
rows 1
as $$
  select case when p_attempts >= p_max_attempts then 'failed' else 'pending' end,
         case when p_attempts < p_max_attempts then now() + ops.retry_backoff(p_attempts, p_base_minutes, p_cap_minutes) end
$$;
comment on function ops.job_after_miss(integer, integer, integer, integer) is 'Status (failed at max attempts, else pending) and next_attempt_at (backoff) of a lead''s job row after a miss that brought it to p_attempts attempts: the one definition of max attempts -> failed.';
