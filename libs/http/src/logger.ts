import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Log lines are collected up to this many bytes (or for LOG_FLUSH_INTERVAL_MS at most) and written with one
 * asynchronous write: one write per access-log line was ~10 % of api-gateway's CPU under load. pino writes what is
 * buffered synchronously when the process exits (SIGTERM's graceful exit, process.exit, an uncaught exception); only a
 * process killed outright (SIGKILL, OOM) loses its last, at most this many, bytes of lines.
 */
export const LOG_BUFFER_BYTES = 4096;
export const LOG_FLUSH_INTERVAL_MS = 1000;

/** Standard output through an asynchronous, buffered writer (sonic-boom), flushed on exit and every LOG_FLUSH_INTERVAL_MS. */
export function bufferedStdout(): DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: LOG_BUFFER_BYTES, periodicFlush: LOG_FLUSH_INTERVAL_MS });
}

/** JSON logs, one logger per service; `service` is on every line. Lines go to `destination` (default: buffered stdout). */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.access_token'], censor: '[redacted]' },
    },
    destination ?? (level === 'silent' ? undefined : bufferedStdout()),
  );
}

/** Writes what a logger holds in its buffer (at a graceful shutdown; pino also does it on `exit`); waits at most `timeoutMs`. */
export function flushLogger(logger: Logger, timeoutMs = 1000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    logger.flush(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
