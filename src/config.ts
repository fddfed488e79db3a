import { z } from 'zod';

/** The environment the program reads (README, "The command line"). Every value is validated once, at start-up. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), {
      message: 'is not a postgres:// URL (leave it unset to use the embedded PostgreSQL under .idgap/)',
    }),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  API_HOST: z.string().trim().min(1, { message: 'must not be empty' }).default('127.0.0.1'),
  API_PORT: z.coerce
    .number({ message: 'must be a port number' })
    .int({ message: 'must be a whole number' })
    .min(0, { message: 'must be between 0 and 65535' })
    .max(65535, { message: 'must be between 0 and 65535' })
    .default(8000),
  API_TOKEN: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || v.length >= 16, { message: 'must be at least 16 characters long' }),
  WORKER_CONCURRENCY: z.coerce
    .number({ message: 'must be a whole number' })
    .int({ message: 'must be a whole number' })
    .min(1, { message: 'must be between 1 and 32' })
    .max(32, { message: 'must be between 1 and 32' })
    .default(2),
  /* The role the HTTP API's connections take (SET ROLE at connect): least privilege for a process that faces a network. Empty: the login's own role. */
  API_DB_ROLE: z
    .string()
    .trim()
    .regex(/^[a-z_][a-z0-9_]*$|^$/, { message: 'must be a PostgreSQL role name (or empty for none)' })
    .default('idgap_api'),
  IDGAP_HOME: z.string().optional(),
});

export type Config = z.infer<typeof envSchema>;

/** A configuration error a person can fix: printed as one line, without a stack trace. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    const variable = String(first.path[0] ?? 'environment');
    const raw = env[variable];
    const shown = raw === undefined ? '' : ` (got ${JSON.stringify(variable === 'API_TOKEN' ? '***' : raw)})`;
    throw new ConfigError(`${variable} ${first.message}${shown}`);
  }
  return parsed.data;
}
