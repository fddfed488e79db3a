import { z } from 'zod';

/*
 * The job payloads (README, the task table) and the values they share with the API's query
 * parameters, defined once. Tasks import their schema from here (nothing imports
 * a task file); the HTTP API validates its query parameters with the same
 * building blocks, and POST run-recovery with the task's own schema, so a value
 * the API accepts is one the task accepts.
 *
 * What PostgreSQL accepts decides: a date is a calendar date with a year of
 * 0001-9999 (PostgreSQL refuses year 0000 and February 30); a whole number is
 * a JSON integer or a string of decimal digits only (no "0x10", "1e3" or " 7 ").
 */

/** Risk levels of ops.v_identity_gap_analysis, highest first. */
export const RISK_LEVELS = ['high', 'medium', 'low'] as const;
/** Gap reasons of an unresolved lead (ops.gap_reason): what a recovery can be asked to work on. */
export const GAP_REASONS = ['no_identity', 'no_origin', 'inconsistent_origin'] as const;
/** Every gap reason a lead can have, `resolved` included (the API lists resolved leads on request). */
export const LEAD_GAP_REASONS = [...GAP_REASONS, 'resolved'] as const;
/** Who asked for a run (ops.job_runs.trigger). */
export const TRIGGERS = ['cron', 'sql', 'cli', 'api'] as const;
/** States of a run (ops.job_runs.state). */
export const RUN_STATES = ['running', 'succeeded', 'failed', 'rejected'] as const;

export type Trigger = (typeof TRIGGERS)[number];

/** "must be high, medium or low" */
function oneOf(values: readonly string[]): string {
  return values.length <= 1 ? `must be ${values[0]}` : `must be ${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}

export const riskLevel = z.enum(RISK_LEVELS, { message: oneOf(RISK_LEVELS) });
export const gapReason = z.enum(GAP_REASONS, { message: oneOf(GAP_REASONS) });
export const leadGapReason = z.enum(LEAD_GAP_REASONS, { message: oneOf(LEAD_GAP_REASONS) });
export const runState = z.enum(RUN_STATES, { message: oneOf(RUN_STATES) });

/** True for YYYY-MM-DD naming a day of the proleptic Gregorian calendar (PostgreSQL's) in years 0001-9999. */
export function isCalendarDate(text: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  return day <= days;
}

/** A date as YYYY-MM-DD that PostgreSQL accepts: a real calendar day, year 0001-9999. */
export const isoDate = z
  .string({ message: 'must be a date YYYY-MM-DD' })
  .regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'must be a date YYYY-MM-DD' })
  .refine(isCalendarDate, { message: 'is not a real calendar date (YYYY-MM-DD, years 0001-9999)' });

/**
 * A whole number between min and max: a JSON integer, or (query strings, CLI
 * arguments) decimal digits only. Messages: "must be a whole number",
 * "must be at least 1", "must be at most 1000".
 */
export const wholeNumber = (min: number, max: number) =>
  z
    .union([z.number().int(), z.string().regex(/^\d{1,15}$/).transform(Number)], { message: 'must be a whole number' })
    .pipe(z.number().min(min, { message: `must be at least ${min}` }).max(max, { message: `must be at most ${max}` }));

/** true or false: a JSON boolean, or the words in a query string. */
export const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { message: 'must be true or false' });

export const DEFAULT_BATCH_SIZE = 5000;

/** The payload of retry_identity_matching; the API and the CLI validate with the same schema. */
export const recoveryParamsSchema = z
  .object({
    limit: wholeNumber(1, 10_000_000).optional(),
    risk_level: riskLevel.optional(),
    gap_reason: gapReason.optional(),
    date_from: isoDate.optional(),
    date_to: isoDate.optional(),
    batch_size: wholeNumber(1, 100_000).optional(),
    refresh_index: flag.optional(),
    /* Worker only (a JSON boolean, which a query string cannot carry): one recover_identity_batch job per batch, so every worker process can take a share of one run. */
    split: z.boolean({ message: 'must be true or false' }).optional(),
  })
  .strict()
  .refine((p) => !p.date_from || !p.date_to || p.date_from <= p.date_to, { message: 'must not be after date_to', path: ['date_from'] });

export type RecoveryParams = z.infer<typeof recoveryParamsSchema>;

/** The payload of snapshot_identity_gap: the day to write (default today). */
export const snapshotParamsSchema = z.object({ date: isoDate.optional() }).strict();

/** refresh_drivers_index and check_identity_gap_alerts take no parameters. */
export const refreshParamsSchema = z.object({}).strict();
export const alertsParamsSchema = z.object({}).strict();

/** recover_arrivals (the incremental run, queued per burst of arrivals) takes no parameters: its work is the work lists. */
export const arrivalsParamsSchema = z.object({}).strict();

/** A reviewer's decision on a lead of the review queue (POST /api/v1/ops/identity-review/{lead_id}/decisions, `idgap review accept|reject`). */
export const reviewDecisionSchema = z
  .object({
    driver: z.string().trim().min(1, { message: 'must name the candidate driver (driver_id)' }).max(200, { message: 'must be at most 200 characters' }),
    decision: z.enum(['accept', 'reject'], { message: 'must be accept or reject' }),
    reviewer: z.string().trim().min(1, { message: 'must name who decides' }).max(200, { message: 'must be at most 200 characters' }),
    note: z.string().max(2000, { message: 'must be at most 2000 characters' }).nullish(),
  })
  .strict();
export type ReviewDecisionInput = z.infer<typeof reviewDecisionSchema>;
