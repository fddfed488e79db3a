/*
 * The day's row of the gap history: the figures of ops.v_identity_gap_totals
 * (the one definition of the totals; risk counts are of unresolved leads) and
 * that day's recovery runs.
 */
create or replace function ops.snapshot_identity_gap(p_date date default null)
returns ops.identity_gap_daily
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  snapshot_day date := coalesce(p_date, (now() at time zone 'utc')::date);
  result ops.identity_gap_daily;
begin
  insert into ops.identity_gap_daily as daily (
    snapshot_date, total_leads, unresolved, resolved, pct_unresolved,
    no_identity, no_origin, inconsistent_origin, risk_high, risk_medium, risk_low,
    matched_in_day, runs_in_day, taken_at)
  select snapshot_day,
         gap.total_leads, gap.unresolved, gap.resolved, gap.pct_unresolved,
         gap.no_identity, gap.no_origin, gap.inconsistent_origin, gap.risk_high, gap.risk_medium, gap.risk_low,
         runs.matched, runs.runs, now()
  from ops.v_identity_gap_totals as gap
  cross join (
    select coalesce(sum(job_runs.matched), 0)::integer as matched,
           (count(*) filter (where job_runs.state = 'succeeded'))::integer as runs
    from ops.job_runs as job_runs
    where job_runs.task = 'retry_identity_matching'
      and job_runs.started_at >= snapshot_day::timestamp at time zone 'utc'
      and job_runs.started_at < (snapshot_day + 1)::timestamp at time zone 'utc'
  ) as runs
  on conflict (snapshot_date) do update
  set total_leads = excluded.total_leads,
      unresolved = excluded.unresolved,
      resolved = excluded.resolved,
      pct_unresolved = excluded.pct_unresolved,
      no_identity = excluded.no_identity,
      no_origin = excluded.no_origin,
      inconsistent_origin = excluded.inconsistent_origin,
      risk_high = excluded.risk_high,
      risk_medium = excluded.risk_medium,
      risk_low = excluded.risk_low,
      matched_in_day = excluded.matched_in_day,
      runs_in_day = excluded.runs_in_day,
      taken_at = excluded.taken_at
  returning daily.* into result;
  return result;
end
$$;
comment on function ops.snapshot_identity_gap(date) is 'Upserts the row of ops.identity_gap_daily for the day (default today, UTC) from ops.v_identity_gap_totals (risk counts among the unresolved leads) and that day''s recovery runs; re-running replaces the row.';
