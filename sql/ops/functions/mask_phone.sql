/*
 * A phone as the review queue shows it: every digit but the last 3 replaced
 * by '*', other characters dropped ('+51 987 654 321' -> '********321'). A
 * reviewer compares the ends and the lengths; the whole number never leaves
 * the database through the queue.
 */
create or replace function ops.mask_phone(p_phone text)
returns text
language sql
immutable
parallel safe
as $$
  select case when digits.d = '' then null
              else repeat('*', greatest(length(digits.d) - 3, 0)) || right(digits.d, 3) end
  from (select regexp_replace(coalesce(p_phone, ''), '[^0-9]', '', 'g') as d) as digits
$$;
comment on function ops.mask_phone(text) is 'A phone with every digit but the last 3 masked (''********321''), null when it has no digit: what the review queue shows.';
