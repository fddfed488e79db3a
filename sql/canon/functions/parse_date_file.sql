/*
 * DD-MM-YYYY or YYYY-MM-DD; anything else, including 31-02-2024 and year 0,
 * is NULL. Checked before make_date() so that it never throws.
 */
create or replace function canon.parse_date_file(raw text)
returns date
language plpgsql
immutable
parallel safe
as $$
declare
  s text := btrim(raw);
  y integer;
  m integer;
  d integer;
begin
  if s ~ '^[0-9]{2}-[0-9]{2}-[0-9]{4}$' then
    d := substr(s, 1, 2)::integer; m := substr(s, 4, 2)::integer; y := substr(s, 7, 4)::integer;
  elsif s ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then
    y := substr(s, 1, 4)::integer; m := substr(s, 6, 2)::integer; d := substr(s, 9, 2)::integer;
  else
    return null;
  end if;
  if y < 1 or m not between 1 and 12 or d < 1
     or d > extract(day from (make_date(y, m, 1) + interval '1 month' - interval '1 day')) then
    return null;
  end if;
  return make_date(y, m, d);
end
$$;
comment on function canon.parse_date_file(text) is 'Activity date of public.summary_daily.date_file: DD-MM-YYYY or YYYY-MM-DD; NULL for anything else (never throws).';
