/*
 * The one backoff rule: base * 2^(attempts - 1) minutes, capped. The caller
 * passes the settings (read once per statement), so the function stays
 * immutable and is inlined into the job-row statements.
 */
create or replace function ops.retry_backoff(p_attempts integer, p_base_minutes integer, p_cap_minutes integer)
returns interval
language sql
immutable
parallel safe
as $$
  select make_interval(mins => least(p_cap_minutes, p_base_minutes * power(2, least(greatest(p_attempts, 1) - 1, 30))::bigint)::integer)
$$;
comment on function ops.retry_backoff(integer, integer, integer) is 'Wait before the next attempt of a lead that has had p_attempts attempts: p_base_minutes * 2^(attempts-1), at most p_cap_minutes.';
