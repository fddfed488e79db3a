/*
 * Every key one edit of the near-key rules from p_key: one character
 * substituted (by a digit when p_digits_only, a phone's; by a digit or a letter
 * otherwise, a plate's, which covers the look-alikes) or two adjacent different
 * characters swapped. The targeted re-open probes ops.lead_keys with these by
 * equality, to find the waiting leads a changed driver's phone or plate is near
 * (rules R4_PLATE_NEAR, R5_PHONE_NEAR): about 10 x length keys for a phone,
 * 36 x length for a plate, never a scan.
 */
create or replace function canon.key_neighbours(p_key text, p_digits_only boolean)
returns text[]
language sql
immutable
parallel safe
as $$
  select coalesce(array_agg(distinct neighbours.key), '{}'::text[])
  from (
    select substr(p_key, 1, pos - 1) || alphabet.c || substr(p_key, pos + 1) as key
    from generate_series(1, length(p_key)) as pos
    cross join unnest(string_to_array(case when p_digits_only then '0123456789' else '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ' end, null)) as alphabet(c)
    where alphabet.c <> substr(p_key, pos, 1)
    union all
    select substr(p_key, 1, pos - 1) || substr(p_key, pos + 1, 1) || substr(p_key, pos, 1) || substr(p_key, pos + 2)
    from generate_series(1, length(p_key) - 1) as pos
    where substr(p_key, pos, 1) <> substr(p_key, pos + 1, 1)
  ) as neighbours
$$;
comment on function canon.key_neighbours(text, boolean) is 'The keys one substitution (digits only when p_digits_only) or one adjacent swap from p_key, distinct; empty for null. Used to re-open the leads a changed driver''s key is near.';
