/*
 * The triggers of recovery as data arrives on the raw leads, and their
 * function. PostgreSQL allows neither a column list nor several events on a
 * trigger with transition tables, so there is one statement-level trigger per
 * event, both calling this function:
 * - insert: every new lead, as ranges of ids (ops.lead_insert_ranges: one row
 *   per statement and run of consecutive ids, the statement's own; expanded to
 *   one ops.lead_changes row per lead by the incremental run,
 *   ops.expand_lead_insert_ranges). A row per lead made a 1M-lead import 48 %
 *   longer; a range costs one scan of the transition table (a second, sorted
 *   one only when the statement's ids are not consecutive);
 * - update: a lead whose key columns (external_id, park_phone,
 *   asset_plate_number, first, middle and last name, lead_created_at) differ
 *   between the old and the new row; both lead ids when external_id (or id)
 *   changed, since lead_id = coalesce(external_id, id::text). An update of any
 *   other column records nothing.
 * Set-based (one insert per statement, whatever its size), one recorded_at per
 * statement. Security definer with a pinned search_path: a loader needs no
 * right on ops. Then ops.notify_arrivals wakes the worker's listener, which
 * queues the job, when no job is waiting already; the trigger never calls
 * add_job itself, whose job-key row lock would make concurrent loaders wait
 * on each other until commit.
 *
 * The triggers are (re)created here, after the function: `idgap migrate`
 * drops a changed function with cascade, which drops its triggers, and then
 * runs this file again.
 */
create or replace function ops.record_lead_changes()
returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  recorded timestamptz := clock_timestamp();
  n_recorded bigint;
  lowest_id bigint;
  highest_id bigint;
begin
  if tg_op = 'INSERT' then
    select min(new_rows.id), max(new_rows.id), count(*) into lowest_id, highest_id, n_recorded from new_rows;
    if n_recorded = 0 then
      return null;
    end if;
    if highest_id - lowest_id + 1 = n_recorded then
      /* The ids are unique (the primary key): as many as the span means consecutive, one run. */
      insert into ops.lead_insert_ranges (first_id, last_id, lead_count, recorded_at)
      values (lowest_id, highest_id, n_recorded, recorded);
    else
      /* Ids taken by other sessions in between (or given by the loader): one row per run of consecutive ids. */
      insert into ops.lead_insert_ranges (first_id, last_id, lead_count, recorded_at)
      select min(numbered.id), max(numbered.id), count(*), recorded
      from (select new_rows.id, new_rows.id - row_number() over (order by new_rows.id) as run from new_rows) as numbered
      group by numbered.run;
    end if;
  else
    insert into ops.lead_changes (lead_id, recorded_at)
    select distinct changed.lead_id, recorded
    from old_rows
    full join new_rows on new_rows.id = old_rows.id
    cross join lateral (values (coalesce(old_rows.external_id, old_rows.id::text)),
                               (coalesce(new_rows.external_id, new_rows.id::text))) as changed (lead_id)
    where changed.lead_id is not null
      and (old_rows.external_id, old_rows.park_phone, old_rows.asset_plate_number, old_rows.first_name,
           old_rows.middle_name, old_rows.last_name, old_rows.lead_created_at, old_rows.id)
          is distinct from
          (new_rows.external_id, new_rows.park_phone, new_rows.asset_plate_number, new_rows.first_name,
           new_rows.middle_name, new_rows.last_name, new_rows.lead_created_at, new_rows.id);
  end if;
  get diagnostics n_recorded = row_count;
  if n_recorded > 0 then
    perform ops.notify_arrivals();
  end if;
  return null;
end
$$;
comment on function ops.record_lead_changes() is 'Statement trigger function on public.module_ct_cabinet_leads (triggers arrival_lead_inserts, arrival_lead_updates): appends the inserted leads as runs of consecutive ids to ops.lead_insert_ranges, and the updated leads whose key columns changed (old and new lead id), to ops.lead_changes, then wakes the arrivals listener when needed (ops.notify_arrivals). Security definer.';

create or replace trigger arrival_lead_inserts
  after insert on public.module_ct_cabinet_leads
  referencing new table as new_rows
  for each statement execute function ops.record_lead_changes();
comment on trigger arrival_lead_inserts on public.module_ct_cabinet_leads is 'Records every inserted lead, as runs of consecutive ids, in ops.lead_insert_ranges (ops.record_lead_changes).';
create or replace trigger arrival_lead_updates
  after update on public.module_ct_cabinet_leads
  referencing old table as old_rows new table as new_rows
  for each statement execute function ops.record_lead_changes();
comment on trigger arrival_lead_updates on public.module_ct_cabinet_leads is 'Records in ops.lead_changes the updated leads whose key columns changed (ops.record_lead_changes).';
