/*
 * The one definition of a job row that waits for new evidence: pending with its
 * backoff still running, or failed and not re-opened (next_attempt_at null).
 * These are the rows a changed driver may re-open (ops.refresh_lead_keys,
 * ops.reopen_leads_for_changed_drivers). One expression: inlined.
 */
create or replace function ops.job_waits(p_status text, p_next_attempt_at timestamptz)
returns boolean
language sql
stable
parallel safe
as $$
  select (p_status = 'pending' and p_next_attempt_at > now()) or (p_status = 'failed' and p_next_attempt_at is null)
$$;
comment on function ops.job_waits(text, timestamptz) is 'True for a job row that waits for new evidence: pending in backoff, or failed and not re-opened; what a changed driver may re-open.';
