/*
 * Whether a recorded arrival may queue a job: the setting
 * arrival_enqueue_enabled is not off, and this session has not turned it off
 * for itself (set idgap.arrival_enqueue = off, or set_config(...)). The
 * session override is how `idgap import` loads without queuing: it ends with
 * its connection (or transaction), so a crash never leaves the global switch
 * off. Only queuing is switched: the triggers record the changes whatever this
 * says.
 */
create or replace function ops.arrival_queuing_on()
returns boolean
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(lower(nullif(current_setting('idgap.arrival_enqueue', true), '')), 'on') <> 'off'
     and coalesce(lower(ops.setting_text('arrival_enqueue_enabled')), 'on') <> 'off'
$$;
comment on function ops.arrival_queuing_on() is 'True unless ops.settings arrival_enqueue_enabled is off or the session set idgap.arrival_enqueue to off: whether recorded arrivals queue a recover_arrivals job. Recording never stops.';
