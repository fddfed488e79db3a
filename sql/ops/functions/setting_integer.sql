create or replace function ops.setting_integer(setting_key text)
returns integer
language sql
stable
set search_path = pg_catalog
as $$
  select ops.setting_text(setting_key)::integer
$$;
comment on function ops.setting_integer(text) is 'The value of an integer ops.settings key.';
