/*
 * Wakes the worker's arrivals listener (NOTIFY idgap_arrivals) after a trigger
 * recorded changes, unless it is not needed:
 * - queuing is off for this session or globally (ops.arrival_queuing_on);
 * - a recover_arrivals job is already waiting (not yet locked): it takes every
 *   row committed before it starts, these included.
 * Why not always: a transaction that sent a NOTIFY takes, at commit, a lock
 * that every notifying transaction of the cluster needs, and holds it through
 * its commit's WAL flush, so notifying loaders commit one after another
 * (bench/results/arrival.md: 4 loaders of single-row transactions made 2-3x
 * fewer commits a second, most of them waiting on that lock). Under a stream
 * a job is nearly always waiting, so almost no loader notifies. A loader whose
 * commit lands just after the waiting job started, without a notification,
 * is caught by the listener's sweep (arrival_sweep_interval_ms).
 */
create or replace function ops.notify_arrivals()
returns void
language sql
volatile
set search_path = pg_catalog
as $$
  select pg_notify('idgap_arrivals', '')
  where ops.arrival_queuing_on()
    and not exists (select 1 from graphile_worker.jobs as jobs where jobs.key = 'recover_arrivals' and jobs.locked_at is null)
$$;
comment on function ops.notify_arrivals() is 'Called by the arrival triggers after recording changes: NOTIFY idgap_arrivals unless queuing is off (ops.arrival_queuing_on) or a recover_arrivals job is already waiting (which takes the changes), so loaders rarely take NOTIFY''s commit-time lock.';
