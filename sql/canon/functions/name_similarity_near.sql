/*
 * canon.name_similarity with tokens one edit apart counting as shared: the name
 * comparison of rule R6_NAME_NEAR_PLATE and of the near keys' name check. A
 * token of a is shared when b has it, or else has an unused token one edit from
 * it (substitution, insertion, deletion or adjacent swap; both tokens of at
 * least 4 letters: a short token one edit away is another name more often than
 * a typo). Each token of b is used once. Same formula, same exact numeric.
 */
create or replace function canon.name_similarity_near(a text[], b text[])
returns numeric
language plpgsql
immutable
parallel safe
as $$
declare
  common integer := 0;
  size_a integer := 0;
  size_b integer := 0;
  used boolean[];
  pending integer[] := '{}'::integer[];
  i integer;
  len_a integer;
  len_b integer;
begin
  if coalesce(cardinality(a), 0) = 0 or coalesce(cardinality(b), 0) = 0 then
    return 0;
  end if;
  used := array_fill(false, array[cardinality(b)]);
  /* Equal tokens first, so that a typo never takes the token an exact one needs. */
  for ia in 1 .. cardinality(a) loop
    continue when ia > 1 and a[ia] = any (a[1:ia - 1]);
    size_a := size_a + 1;
    i := array_position(b, a[ia]);
    if i is not null then
      used[i] := true;
      common := common + 1;
    else
      pending := pending || ia;
    end if;
  end loop;
  foreach i in array pending loop
    len_a := length(a[i]);
    continue when len_a < 4;
    for ib in 1 .. cardinality(b) loop
      continue when used[ib];
      len_b := length(b[ib]);
      /* Cheap necessary conditions first: one edit keeps the lengths within one, and tokens of 4 letters or more keep
         their first or their last letter (the check below costs ~1.7 us a call). */
      continue when len_b < 4 or abs(len_a - len_b) > 1;
      continue when left(a[i], 1) <> left(b[ib], 1) and right(a[i], 1) <> right(b[ib], 1);
      if canon.one_edit(a[i], b[ib], true) is not null then
        used[ib] := true;
        common := common + 1;
        exit;
      end if;
    end loop;
  end loop;
  for ib in 1 .. cardinality(b) loop
    continue when ib > 1 and b[ib] = any (b[1:ib - 1]);
    size_b := size_b + 1;
  end loop;
  return (common::numeric / (size_a + size_b - common) + common::numeric / greatest(size_a, size_b)) / 2;
end
$$;
comment on function canon.name_similarity_near(text[], text[]) is 'canon.name_similarity where a token one edit from an unused token of the other name (both of at least 4 letters) counts as shared: the name check of the near-key rules. 0 when either is empty.';
