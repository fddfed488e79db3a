create or replace function ops.run_lock_key(p_run_id bigint)
returns bigint
language sql
immutable
parallel safe
as $$
  select hashtextextended('idgap.run', p_run_id)
$$;
comment on function ops.run_lock_key(bigint) is 'The advisory lock key a run holds while its process lives.';
