import { ClientRegistrationError } from '../auth/clients';
import { ConfigError } from '../config';

/** A mistake in how the command was called: reported as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Exit codes: 1 for a failure while working, 2 for a bad configuration or command line. */
export function exitCodeOf(err: unknown): number {
  return err instanceof ConfigError || err instanceof UsageError || err instanceof ClientRegistrationError ? 2 : 1;
}

/** One line that says what went wrong (no stack trace), with a hint where the cause is a common one. */
export function describeError(err: unknown): string {
  const driver = (err as { driverError?: unknown }).driverError;
  const cause = driver ?? err;
  const code = (cause as { code?: unknown }).code;
  let message = messageOf(cause);
  if (code === '42P01' || code === '42883') message += ' (is the database migrated? run the migrate command)';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT') message = `cannot reach the database: ${message}`;
  if (code === '28P01' || code === '28000') message = `the database refused the login: ${message}`;
  if (code === '3D000') message += ' (create the database first)';
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return [...new Set(err.errors.map((e) => messageOf(e)))].join('; ');
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (err.message !== '') return err.message;
    return typeof code === 'string' ? code : err.name;
  }
  return String(err);
}
