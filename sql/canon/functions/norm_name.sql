/*
 * unaccent() is only STABLE because its dictionary could change; naming the
 * dictionary explicitly is the documented way to use it in an IMMUTABLE
 * function (and in index expressions). Accents go first, so upper() only ever
 * sees ASCII and behaves the same under every collation.
 * No SET search_path (every name is schema-qualified instead): a SET clause
 * stops inlining and costs a GUC save/restore per call, 13 us -> ~3 us here.
 */
create or replace function canon.norm_name(raw text)
returns text
language sql
immutable
parallel safe
as $$
  select nullif(
           btrim(regexp_replace(upper(public.unaccent('public.unaccent'::regdictionary, raw)), '[^A-Z]+', ' ', 'g')),
           '')
$$;
comment on function canon.norm_name(text) is 'Normalised name: accents removed, upper-case, every run of non-letters (hyphens, digits, punctuation, spaces) becomes one space, trimmed; NULL when empty. Never throws.';
