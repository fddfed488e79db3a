/*
 * unaccent() is only STABLE because its dictionary could change; naming the
 * dictionary explicitly is the documented way to use it in an IMMUTABLE
 * function (and in index expressions). Accents go first, so upper() only ever
 * sees ASCII and behaves the same under every collation.
 * No SET search_path (every name is schema-qualified instead): a SET clause
 * costs a GUC save/restore per call, 13 us -> ~3 us here.
 * PL/pgSQL, not SQL: a SQL function calling the STABLE unaccent() is never
 * inlined into an IMMUTABLE caller, so each call ran the SQL-function executor
 * (5.4 us a call on 200,000 lead names against 3.2 us as a PL/pgSQL simple
 * expression), and it kept canon.name_tokens from being inlined too (7.4 ->
 * 5.9 us a call; identical tokens on the 200,000 names).
 */
create or replace function canon.norm_name(raw text)
returns text
language plpgsql
immutable
parallel safe
as $$
begin
  return nullif(btrim(regexp_replace(upper(public.unaccent('public.unaccent'::regdictionary, raw)), '[^A-Z]+', ' ', 'g')), '');
end
$$;
comment on function canon.norm_name(text) is 'Normalised name: accents removed, upper-case, every run of non-letters (hyphens, digits, punctuation, spaces) becomes one space, trimmed; NULL when empty. Never throws.';
