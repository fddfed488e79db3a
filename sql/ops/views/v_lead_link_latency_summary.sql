/*
 * The latency of the leads recorded in the last hour and the last day
 * (ops.v_lead_link_latency): how many arrived, were linked or still wait, and
 * the percentiles of record-to-link latency of the linked ones. A lead that
 * can never be linked stays waiting; it is no latency.
 */
create or replace view ops.v_lead_link_latency_summary as
with periods as (
  select periods.period, periods.span, periods.period_order
  from (values ('1h', interval '1 hour', 1), ('1d', interval '1 day', 2)) as periods (period, span, period_order)
),
latencies as (
  select latency.recorded_at, latency.state, latency.latency_seconds
  from ops.v_lead_link_latency as latency
  where latency.recorded_at >= now() - interval '1 day'
),
summary as (
  select periods.period, periods.period_order,
         count(latencies.recorded_at) as recorded,
         count(*) filter (where latencies.state = 'linked') as linked,
         count(*) filter (where latencies.state = 'waiting') as waiting,
         percentile_cont(0.5) within group (order by latencies.latency_seconds) as p50,
         percentile_cont(0.95) within group (order by latencies.latency_seconds) as p95,
         percentile_cont(0.99) within group (order by latencies.latency_seconds) as p99,
         max(latencies.latency_seconds) as max_seconds
  from periods
  left join latencies on latencies.recorded_at >= now() - periods.span
  group by periods.period, periods.period_order
)
select summary.period,
       summary.recorded,
       summary.linked,
       summary.waiting,
       round(summary.p50::numeric, 3) as p50_seconds,
       round(summary.p95::numeric, 3) as p95_seconds,
       round(summary.p99::numeric, 3) as p99_seconds,
       summary.max_seconds
from summary
order by summary.period_order;
comment on view ops.v_lead_link_latency_summary is 'One row per period (1h, 1d) of leads recorded by the work list: how many were recorded, linked and still waiting, and the p50/p95/p99/max record-to-link latency of the linked ones (null when none).';
comment on column ops.v_lead_link_latency_summary.period is '1h or 1d: leads recorded within the last hour or day.';
comment on column ops.v_lead_link_latency_summary.recorded is 'Leads the work list recorded in the period.';
comment on column ops.v_lead_link_latency_summary.linked is 'Of those, linked after they were recorded.';
comment on column ops.v_lead_link_latency_summary.waiting is 'Of those, not linked yet.';
comment on column ops.v_lead_link_latency_summary.p50_seconds is 'Median record-to-link latency of the linked ones, seconds.';
comment on column ops.v_lead_link_latency_summary.p95_seconds is '95th percentile, seconds.';
comment on column ops.v_lead_link_latency_summary.p99_seconds is '99th percentile, seconds.';
comment on column ops.v_lead_link_latency_summary.max_seconds is 'Largest latency, seconds.';
