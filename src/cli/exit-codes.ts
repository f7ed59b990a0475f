/**
 * How a command's process ends, after BSD's sysexits.h, so that a supervisor can tell a
 * mistake in the command line or the config (fix it, do not restart) from a service that is
 * away (restart later).
 */
import { ConnectionError, CredentialsError, SchemaError, SettingError, TopologyError } from '../common/errors.js';

export const exitCodes = {
  ok: 0,
  /** Anything not told apart below. */
  failure: 1,
  /** The command line is wrong: an unknown command or option, a missing argument. */
  usage: 64,
  /** RabbitMQ, Redis or the database cannot be reached. */
  unavailable: 69,
  /**
   * The config is missing or wrong (credentials a service refused included), the app's generated
   * code is not there, or its database lacks a table or column it needs.
   */
  config: 78,
} as const;

/** A config or a project that a command cannot run with, as it is: exits with {@link exitCodes.config}. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The exit code of a command that failed with `error`. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CredentialsError) return exitCodes.config;
  if (error instanceof TopologyError || error instanceof SchemaError) return exitCodes.config;
  if (error instanceof ConnectionError) return exitCodes.unavailable;
  if (error instanceof ConfigError || error instanceof SettingError) return exitCodes.config;
  return exitCodes.failure;
}
