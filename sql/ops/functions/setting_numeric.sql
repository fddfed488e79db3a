create or replace function ops.setting_numeric(setting_key text)
returns numeric
language sql
stable
set search_path = pg_catalog
as $$
  select ops.setting_text(setting_key)::numeric
$$;
comment on function ops.setting_numeric(text) is 'The value of a numeric ops.settings key.';
