/*
 * The gap's evolution from the daily history: today's row against the row of
 * 1, 7 and 30 days before. Exact days only: a missing day gives nulls and the
 * direction "unknown" rather than a silent comparison with another day; a
 * history younger than the period (day one: today's row is the first) gives
 * "no_history", which is not a missing snapshot (the gap_trend health check
 * reads this). "Better" is a lower pct_unresolved.
 */
create or replace view ops.v_identity_gap_trend as
with today as (
  select (now() at time zone 'utc')::date as snapshot_date
),
history as (
  select min(daily.snapshot_date) as first_date
  from ops.identity_gap_daily as daily
),
periods as (
  select periods.period, periods.days
  from (values ('1d', 1), ('7d', 7), ('30d', 30)) as periods (period, days)
),
compared as (
  select periods.period,
         periods.days,
         today.snapshot_date,
         today.snapshot_date - periods.days as reference_date,
         history.first_date,
         now_row.pct_unresolved as pct_unresolved_now,
         then_row.pct_unresolved as pct_unresolved_then,
         now_row.unresolved as unresolved_now,
         then_row.unresolved as unresolved_then,
         now_row.total_leads as total_leads_now,
         then_row.total_leads as total_leads_then,
         (select sum(daily.matched_in_day)::integer from ops.identity_gap_daily as daily
          where daily.snapshot_date > today.snapshot_date - periods.days and daily.snapshot_date <= today.snapshot_date) as matched_in_period,
         (select sum(daily.runs_in_day)::integer from ops.identity_gap_daily as daily
          where daily.snapshot_date > today.snapshot_date - periods.days and daily.snapshot_date <= today.snapshot_date) as runs_in_period
  from periods
  cross join today
  cross join history
  left join ops.identity_gap_daily as now_row on now_row.snapshot_date = today.snapshot_date
  left join ops.identity_gap_daily as then_row on then_row.snapshot_date = today.snapshot_date - periods.days
)
select compared.period,
       compared.days,
       compared.snapshot_date,
       compared.reference_date,
       compared.pct_unresolved_now,
       compared.pct_unresolved_then,
       compared.pct_unresolved_now - compared.pct_unresolved_then as pct_unresolved_change,
       compared.unresolved_now,
       compared.unresolved_then,
       compared.unresolved_now - compared.unresolved_then as unresolved_change,
       compared.total_leads_now,
       compared.total_leads_then,
       coalesce(compared.matched_in_period, 0) as matched_in_period,
       coalesce(compared.runs_in_period, 0) as runs_in_period,
       case when compared.pct_unresolved_now is null then 'unknown'
            when compared.pct_unresolved_then is null and compared.first_date > compared.reference_date then 'no_history'
            when compared.pct_unresolved_then is null then 'unknown'
            when compared.pct_unresolved_now < compared.pct_unresolved_then then 'down'
            when compared.pct_unresolved_now > compared.pct_unresolved_then then 'up'
            else 'flat' end as direction
from compared;
comment on view ops.v_identity_gap_trend is 'One row per comparison period (1d = today vs yesterday, 7d, 30d): today''s row of ops.identity_gap_daily against the row of that many days before (UTC days).';
comment on column ops.v_identity_gap_trend.period is '1d, 7d or 30d.';
comment on column ops.v_identity_gap_trend.days is 'The period in days: 1, 7 or 30.';
comment on column ops.v_identity_gap_trend.snapshot_date is 'Today (UTC): the day compared.';
comment on column ops.v_identity_gap_trend.reference_date is 'snapshot_date - days: the day compared with.';
comment on column ops.v_identity_gap_trend.pct_unresolved_now is 'pct_unresolved of today''s history row (null: no snapshot today).';
comment on column ops.v_identity_gap_trend.pct_unresolved_then is 'pct_unresolved of the reference day''s row (null: no snapshot that day).';
comment on column ops.v_identity_gap_trend.pct_unresolved_change is 'now - then, in percentage points: negative means the gap shrank.';
comment on column ops.v_identity_gap_trend.unresolved_now is 'Unresolved leads in today''s row.';
comment on column ops.v_identity_gap_trend.unresolved_then is 'Unresolved leads in the reference day''s row.';
comment on column ops.v_identity_gap_trend.unresolved_change is 'now - then, in leads.';
comment on column ops.v_identity_gap_trend.total_leads_now is 'Total leads in today''s row.';
comment on column ops.v_identity_gap_trend.total_leads_then is 'Total leads in the reference day''s row.';
comment on column ops.v_identity_gap_trend.matched_in_period is 'Sum of matched_in_day over the days after the reference day up to today.';
comment on column ops.v_identity_gap_trend.runs_in_period is 'Sum of runs_in_day over the same days.';
comment on column ops.v_identity_gap_trend.direction is 'down (gap shrank), up (gap grew), flat, no_history (today''s row exists but the history starts after the reference day: nothing to compare yet) or unknown (today''s or the reference day''s row is missing).';
