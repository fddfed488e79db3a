create or replace function canon.driver_name(full_name text, first_name text, middle_name text, last_name text)
returns text
language sql
immutable
parallel safe
as $$
  select case when nullif(btrim(full_name), '') is not null then full_name
              else nullif(concat_ws(' ', first_name, middle_name, last_name), '') end
$$;
comment on function canon.driver_name(text, text, text, text) is 'The name a driver is matched on: full_name, or first middle last when full_name is empty.';
