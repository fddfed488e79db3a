create or replace function ops.setting_text(setting_key text)
returns text
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  found_value text;
begin
  select settings.value into found_value from ops.settings as settings where settings.key = setting_key;
  if not found then
    raise exception 'ops.settings has no key %', setting_key using errcode = 'undefined_object',
      hint = 'run idgap migrate to restore the default settings';
  end if;
  return found_value;
end
$$;
comment on function ops.setting_text(text) is 'The value of an ops.settings key as text (NULL when unset); raises when the key does not exist.';
