/*
 * Whether two keys are one edit apart, and which edit: the check after the
 * near-key rules' equality join on one-deletion variants (which over-approximates
 * one edit). A loop over two short strings: it stops at the first difference
 * and compares the rest once.
 *   look_alike     one substitution of look-alike characters (0/O 1/I 8/B 5/S 2/Z 6/G)
 *   substitution   one other substitution
 *   transposition  two adjacent characters swapped
 *   insertion      (p_allow_indel) a has one character more than b
 *   deletion       (p_allow_indel) a has one character less than b
 * Null when the keys are equal, null, or further apart.
 */
create or replace function canon.one_edit(a text, b text, p_allow_indel boolean default false)
returns text
language plpgsql
immutable
parallel safe
as $$
declare
  len_a integer := length(a);
  len_b integer := length(b);
  i integer := 1;
  char_a text;
  char_b text;
begin
  if a is null or b is null or a = b then
    return null;
  end if;
  if len_a = len_b then
    while substr(a, i, 1) = substr(b, i, 1) loop
      i := i + 1;
    end loop;
    char_a := substr(a, i, 1);
    char_b := substr(b, i, 1);
    if substr(a, i + 1) = substr(b, i + 1) then
      if translate(char_a, 'OIBSZG', '018526') = translate(char_b, 'OIBSZG', '018526') then
        return 'look_alike';
      end if;
      return 'substitution';
    end if;
    if i < len_a and char_a = substr(b, i + 1, 1) and substr(a, i + 1, 1) = char_b and substr(a, i + 2) = substr(b, i + 2) then
      return 'transposition';
    end if;
    return null;
  end if;
  if not p_allow_indel or abs(len_a - len_b) <> 1 then
    return null;
  end if;
  while i <= least(len_a, len_b) and substr(a, i, 1) = substr(b, i, 1) loop
    i := i + 1;
  end loop;
  if len_a > len_b then
    return case when substr(a, i + 1) = substr(b, i) then 'insertion' end;
  end if;
  return case when substr(a, i) = substr(b, i + 1) then 'deletion' end;
end
$$;
comment on function canon.one_edit(text, text, boolean) is 'The one edit that turns a into b: look_alike, substitution, transposition (adjacent swap), or with p_allow_indel insertion / deletion (a has one character more / less); null when equal, null or further apart.';
