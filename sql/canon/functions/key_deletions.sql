/*
 * The one-deletion variants of a key, distinct (deleting either of two equal
 * adjacent characters gives the same variant: only the first is kept). Two keys
 * of one length one substitution or one adjacent swap apart share one of them:
 * the blocking of the near-key rules is an equality join on these.
 */
create or replace function canon.key_deletions(p_key text)
returns text[]
language plpgsql
immutable
parallel safe
as $$
declare
  variants text[] := '{}'::text[];
begin
  if p_key is null then
    return variants;
  end if;
  for i in 1 .. length(p_key) loop
    continue when i > 1 and substr(p_key, i, 1) = substr(p_key, i - 1, 1);
    variants := variants || (substr(p_key, 1, i - 1) || substr(p_key, i + 1));
  end loop;
  return variants;
end
$$;
comment on function canon.key_deletions(text) is 'The distinct one-deletion variants of a key (the key with one character deleted), the blocking keys of the near-key rules; empty for null.';
