import { pino, type Logger as PinoLogger } from 'pino';
import { Logger as GraphileLogger, type LogFunctionFactory } from 'graphile-worker';

/**
 * One logger for the whole process: pino JSON on stderr, pretty when stderr is a
 * terminal. Every line we write carries an `event` from the vocabulary in the README.
 */
export type Log = PinoLogger;

let root: Log | undefined;

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Log {
  const pretty = process.stderr.isTTY && process.env.IDGAP_LOG_JSON !== '1';
  if (pretty) {
    return pino({
      level,
      base: undefined,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' },
      },
    });
  }
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}

export function logger(): Log {
  root ??= createLogger();
  return root;
}

export function setLogger(log: Log): void {
  root = log;
}

/** Routes Graphile Worker's own log lines through pino, tagged `event: "worker.log"`. */
export function graphileLogger(log: Log): GraphileLogger {
  const factory: LogFunctionFactory = (scope) => (level, message, meta) => {
    const fields = { event: 'worker.log', scope: { label: scope.label, taskIdentifier: scope.taskIdentifier, jobId: scope.jobId }, ...(meta ?? {}) };
    switch (level) {
      case 'error':
        log.error(fields, message);
        break;
      case 'warning':
        log.warn(fields, message);
        break;
      case 'info':
        log.info(fields, message);
        break;
      default:
        log.debug(fields, message);
    }
  };
  return new GraphileLogger(factory);
}
