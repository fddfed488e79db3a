import { spawn, type ChildProcess } from 'node:child_process';
import { PROJECT_ROOT } from '../../src/paths.js';

export type LogLine = Record<string, unknown> & { event?: string; msg?: string };

/** An `idgap start --worker-only --no-cron` child process with JSON logs captured from stderr. */
export interface WorkerProcess {
  child: ChildProcess;
  lines: LogLine[];
  /** Raw stderr, for tests that scan everything the process wrote. */
  stderr: () => string;
  waitFor(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

export function spawnWorker(databaseUrl: string, opts: { concurrency?: number; env?: Record<string, string> } = {}): WorkerProcess {
  const child = spawn('node', ['bin/idgap.js', 'start', '--worker-only', '--no-cron'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, WORKER_CONCURRENCY: String(opts.concurrency ?? 1), LOG_LEVEL: 'info', IDGAP_LOG_JSON: '1', ...opts.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: LogLine[] = [];
  let raw = '';
  let partial = '';
  const waiters: Array<{ predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    raw += chunk;
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const text of parts) {
      if (!text.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text };
      }
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.predicate(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    lines,
    stderr: () => raw,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    waitFor: (predicate, timeoutMs = 120_000) =>
      new Promise<LogLine>((resolve, reject) => {
        const found = lines.find(predicate);
        if (found) return resolve(found);
        const timer = setTimeout(() => reject(new Error(`timed out waiting for a log line; last lines:\n${raw.split('\n').slice(-8).join('\n')}`)), timeoutMs);
        const onExit = () => reject(new Error(`the worker exited before the expected log line; stderr tail:\n${raw.split('\n').slice(-8).join('\n')}`));
        void exited.then(onExit);
        waiters.push({
          predicate,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      }),
  };
}

/** Polls `check` until it returns a truthy value. */
export async function until<T>(check: () => Promise<T>, timeoutMs = 120_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
