/*
 * unaccent() is only STABLE because its dictionary could change; naming the
 * dictionary explicitly is the documented way to use it in an IMMUTABLE
 * function (and in index expressions). Accents go first, so upper() only ever
 * sees ASCII and behaves the same under every collation.
 */
create or replace function canon.norm_name(raw text)
returns text
language sql
immutable
parallel safe
set search_path = pg_catalog, public
as $$
  select nullif(
           btrim(regexp_replace(upper(public.unaccent('public.unaccent'::regdictionary, raw)), '[^A-Z]+', ' ', 'g')),
           '')
$$;
comment on function canon.norm_name(text) is 'Normalised name: accents removed, upper-case, every run of non-letters (hyphens, digits, punctuation, spaces) becomes one space, trimmed; NULL when empty. Never throws.';
