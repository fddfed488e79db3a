/*
 * Activity of drivers no person claims yet, per day: a KPI separate from the
 * lead gap. date_file comes in two formats and sometimes as garbage; garbage is
 * counted in the row whose activity_date is NULL, never dropped.
 */
create or replace view ops.v_identity_driver_unlinked_activity as
with activity as (
  select summary.driver_id, canon.parse_date_file(summary.date_file) as activity_date, summary.count_orders_completed
  from public.summary_daily as summary
),
unlinked as (
  select activity.*
  from activity
  where not exists (select 1 from canon.identity_links as links
                    where links.source_table = 'drivers' and links.source_pk = activity.driver_id)
)
select unlinked.activity_date,
       unlinked.activity_date is null as is_unparsed_date,
       count(distinct unlinked.driver_id)::integer as drivers_without_identity_count,
       coalesce(sum(unlinked.count_orders_completed), 0)::bigint as trips_from_unlinked_drivers,
       count(*)::integer as activity_rows
from unlinked
group by unlinked.activity_date;
comment on view ops.v_identity_driver_unlinked_activity is 'One row per activity date (and one row with a NULL date for unparseable date_file values): drivers with activity but no identity link, and their completed trips.';
comment on column ops.v_identity_driver_unlinked_activity.activity_date is 'The parsed date_file (DD-MM-YYYY or YYYY-MM-DD); NULL for the garbage row.';
comment on column ops.v_identity_driver_unlinked_activity.is_unparsed_date is 'True for the row counting date_file values that are not a date.';
comment on column ops.v_identity_driver_unlinked_activity.drivers_without_identity_count is 'Distinct drivers with activity that day and no link to a person.';
comment on column ops.v_identity_driver_unlinked_activity.trips_from_unlinked_drivers is 'Their completed orders that day.';
comment on column ops.v_identity_driver_unlinked_activity.activity_rows is 'Activity rows counted.';
