/*
 * The triggers of recovery as data arrives on the raw drivers, and their
 * function: one statement-level trigger per event (transition tables allow
 * neither column lists nor several events), all calling this function, which
 * appends to ops.driver_changes:
 * - insert: every new driver (change insert);
 * - delete: every deleted driver (change delete);
 * - update: a driver whose columns that feed canon.drivers_index differ
 *   (park_id, phone, licence and car numbers raw and normalised, full, first,
 *   middle and last name, hire_date: canon.refresh_drivers_index); a driver_id
 *   changed counts as the old id deleted and the new one inserted. Another
 *   column (car brand, model, created_at) records nothing.
 * Only ids: a driver's old keys are its canon.drivers_index row until the
 * incremental refresh replaces it. Set-based, one recorded_at per statement,
 * security definer (a loader needs no right on ops), then ops.notify_arrivals
 * wakes the worker's listener when no job is waiting already (never add_job
 * here: its job-key row lock would serialise concurrent loaders until commit).
 *
 * The triggers are (re)created here, after the function: `idgap migrate`
 * drops a changed function with cascade, which drops its triggers, and then
 * runs this file again.
 */
create or replace function ops.record_driver_changes()
returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  recorded timestamptz := clock_timestamp();
  n_recorded bigint;
begin
  if tg_op = 'INSERT' then
    insert into ops.driver_changes (driver_id, change, recorded_at)
    select new_rows.driver_id, 'insert', recorded
    from new_rows;
  elsif tg_op = 'DELETE' then
    insert into ops.driver_changes (driver_id, change, recorded_at)
    select old_rows.driver_id, 'delete', recorded
    from old_rows;
  else
    insert into ops.driver_changes (driver_id, change, recorded_at)
    select coalesce(new_rows.driver_id, old_rows.driver_id),
           case when old_rows.driver_id is null then 'insert' when new_rows.driver_id is null then 'delete' else 'update' end,
           recorded
    from old_rows
    full join new_rows on new_rows.driver_id = old_rows.driver_id
    where (old_rows.driver_id, old_rows.park_id, old_rows.phone, old_rows.license_number, old_rows.license_normalized_number,
           old_rows.car_number, old_rows.car_normalized_number, old_rows.full_name, old_rows.first_name,
           old_rows.middle_name, old_rows.last_name, old_rows.hire_date)
          is distinct from
          (new_rows.driver_id, new_rows.park_id, new_rows.phone, new_rows.license_number, new_rows.license_normalized_number,
           new_rows.car_number, new_rows.car_normalized_number, new_rows.full_name, new_rows.first_name,
           new_rows.middle_name, new_rows.last_name, new_rows.hire_date);
  end if;
  get diagnostics n_recorded = row_count;
  if n_recorded > 0 then
    perform ops.notify_arrivals();
  end if;
  return null;
end
$$;
comment on function ops.record_driver_changes() is 'Statement trigger function on public.drivers (triggers arrival_driver_inserts, arrival_driver_updates, arrival_driver_deletes): appends the inserted and deleted drivers, and the updated ones whose indexed columns changed, to ops.driver_changes, then wakes the arrivals listener when needed (ops.notify_arrivals). Security definer.';

create or replace trigger arrival_driver_inserts
  after insert on public.drivers
  referencing new table as new_rows
  for each statement execute function ops.record_driver_changes();
comment on trigger arrival_driver_inserts on public.drivers is 'Records every inserted driver in ops.driver_changes (ops.record_driver_changes).';
create or replace trigger arrival_driver_updates
  after update on public.drivers
  referencing old table as old_rows new table as new_rows
  for each statement execute function ops.record_driver_changes();
comment on trigger arrival_driver_updates on public.drivers is 'Records in ops.driver_changes the updated drivers whose indexed columns changed (ops.record_driver_changes).';
create or replace trigger arrival_driver_deletes
  after delete on public.drivers
  referencing old table as old_rows
  for each statement execute function ops.record_driver_changes();
comment on trigger arrival_driver_deletes on public.drivers is 'Records every deleted driver in ops.driver_changes (ops.record_driver_changes).';
