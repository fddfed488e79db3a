create or replace function canon.norm_plate(raw text)
returns text
language sql
immutable
parallel safe
as $$
  select nullif(regexp_replace(upper(raw), '[^A-Z0-9]+', '', 'g'), '')
$$;
comment on function canon.norm_plate(text) is 'Normalised plate or licence number: upper-cased, then only A-Z and 0-9 kept; NULL when nothing is left. Never throws.';
