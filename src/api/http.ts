import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Config } from '../config.js';
import { wholeNumber } from '../payloads.js';

/** An error with a status code and a message safe to show to the caller. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string) => new ApiError(400, 'bad_request', message);
export const notFound = (message: string) => new ApiError(404, 'not_found', message);

/** "page: must be at least 1; foo: unknown parameter": every message names the parameter. */
export function describeParamError(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${k}: unknown parameter`).join('; ');
      return issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Validates request parameters (query string or route params) or throws a 400 naming the parameter. */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const values = { ...((input ?? {}) as Record<string, unknown>) };
  for (const [key, value] of Object.entries(values)) {
    if (Array.isArray(value)) throw badRequest(`${key}: given more than once`);
  }
  const parsed = schema.safeParse(values);
  if (!parsed.success) throw badRequest(describeParamError(parsed.error));
  return parsed.data;
}

/** Parameters of the write endpoints travel in the query string; a body is refused rather than ignored. */
export function refuseBody(req: FastifyRequest): void {
  const body = req.body as unknown;
  const empty = body === undefined || body === null || body === '' || (typeof body === 'object' && Object.keys(body as object).length === 0);
  if (!empty) throw badRequest('body: parameters go in the query string; send no body');
}

export const pagination = {
  page: wholeNumber(1, 1_000_000).default(1),
  page_size: wholeNumber(1, 1000).default(50),
};

export function pageMeta(page: number, pageSize: number, totalItems: number) {
  return { page, page_size: pageSize, total_items: totalItems, total_pages: Math.ceil(totalItems / pageSize) };
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Write endpoints need `Authorization: Bearer <API_TOKEN>`. The comparison is
 * of SHA-256 digests (equal lengths) with timingSafeEqual, so neither the
 * token's content nor its length leaks through timing.
 */
export function requireToken(config: Config) {
  const expected = config.API_TOKEN === undefined ? undefined : digest(config.API_TOKEN);
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (expected === undefined) {
      throw new ApiError(403, 'forbidden', 'write endpoints are disabled on this server', 'set API_TOKEN to enable write endpoints');
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      throw new ApiError(401, 'unauthorized', 'missing or wrong bearer token (Authorization: Bearer <API_TOKEN>)');
    }
  };
}

/** Same-key calls that arrive while one is in flight share its result; results are kept `ttlMs`. */
export function microCache<T>(ttlMs: number, maxEntries = 500) {
  const entries = new Map<string, { expires: number; value: Promise<T> }>();
  return (key: string, load: () => Promise<T>): Promise<T> => {
    const now = Date.now();
    const hit = entries.get(key);
    if (hit && hit.expires > now) return hit.value;
    if (entries.size >= maxEntries) {
      for (const [k, e] of entries) if (e.expires <= now) entries.delete(k);
      if (entries.size >= maxEntries) entries.clear();
    }
    const value = load();
    entries.set(key, { expires: now + ttlMs, value });
    value.catch(() => entries.delete(key));
    return value;
  };
}

/**
 * A stale-while-revalidate cache for the endpoints that read views computed
 * over every lead. A value younger than `freshMs` is served as is; one younger
 * than `maxStaleMs` is served while one background read refreshes it; older or
 * missing values are read before answering. Reads run at most `concurrency` at
 * a time, so request rate does not turn into database load: the database sees
 * at most (distinct keys) reads per `freshMs`, whatever the traffic.
 */
export function swrCache<T>(opts: { freshMs: number; maxStaleMs: number; concurrency: number; maxEntries?: number; onError?: (e: Error) => void }) {
  const entries = new Map<string, { at: number; value?: T; pending?: Promise<T> }>();
  let running = 0;
  const waiting: Array<() => void> = [];
  const limited = async (load: () => Promise<T>): Promise<T> => {
    if (running >= opts.concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    running += 1;
    try {
      return await load();
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  };
  const refresh = (key: string, load: () => Promise<T>): Promise<T> => {
    const entry = entries.get(key) ?? { at: 0 };
    const pending = limited(load).then(
      (value) => {
        entries.set(key, { at: Date.now(), value });
        return value;
      },
      (e: Error) => {
        if (entry.value !== undefined) entries.set(key, { at: entry.at, value: entry.value });
        else entries.delete(key);
        throw e;
      },
    );
    entries.set(key, { ...entry, pending });
    if (entries.size > (opts.maxEntries ?? 1000)) {
      const now = Date.now();
      for (const [k, e] of entries) if (!e.pending && now - e.at > opts.maxStaleMs) entries.delete(k);
    }
    return pending;
  };
  return (key: string, load: () => Promise<T>): Promise<T> => {
    const entry = entries.get(key);
    const age = entry ? Date.now() - entry.at : Infinity;
    if (entry?.value !== undefined && age <= opts.maxStaleMs) {
      if (age > opts.freshMs && !entry.pending) refresh(key, load).catch((e: Error) => opts.onError?.(e));
      return Promise.resolve(entry.value);
    }
    return entry?.pending ?? refresh(key, load);
  };
}
