/*
 * The session advisory lock every recovery run holds from its plan to its end
 * (the worker's task, `idgap recover` and a split run alike), so two runs never
 * overlap: the batches of one run are independent by construction
 * (ops.plan_recovery), and nothing is shared with another run because there is
 * none. ops.plan_recovery refuses to plan without it.
 */
create or replace function ops.recovery_lock_key()
returns bigint
language sql
immutable
parallel safe
as $$
  select hashtextextended('idgap.recovery_run', 0)
$$;
comment on function ops.recovery_lock_key() is 'The advisory lock key a recovery run holds on its session from its plan to its end (pg_advisory_lock(ops.recovery_lock_key())): two recovery runs never overlap.';
