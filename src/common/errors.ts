/**
 * The errors `errorNotifier(error, payload)` receives. Each says which side failed; `cause`
 * holds the underlying error. They live below the runtime because the transports raise the
 * first two, and a transport knows nothing of the runtime.
 */

/** RabbitMQ, Redis or the database could not be reached, or the connection was lost. */
export class ConnectionError extends Error {
  override readonly name: string = 'ConnectionError';
}

/** RabbitMQ or Redis answered, and refused the credentials: retrying will not help. */
export class CredentialsError extends ConnectionError {
  override readonly name = 'CredentialsError';
}

/**
 * RabbitMQ refused to declare a queue or the exchange because one of that name exists with
 * other arguments (PRECONDITION_FAILED): retrying will not help; the message names it and the fix.
 */
export class TopologyError extends Error {
  override readonly name = 'TopologyError';
}

/** A change could not be published (the broker refused it, or the relay failed). */
export class PublisherError extends Error {
  override readonly name = 'PublisherError';
}

/** A message could not be applied; `reason` says why, and the message was retried or parked. */
export class SubscriberError extends Error {
  override readonly name = 'SubscriberError';
}

/**
 * A sink's `send` threw or outlived its timeout: the apply rolled back, and the message is
 * retried, then parked after the sink's `attempts` (the subscriber's `maxAttempts` by default).
 */
export class SinkError extends Error {
  override readonly name = 'SinkError';

  constructor(
    message: string,
    /** The sink: the local name it sends for. */
    readonly sink: string,
    /** Its attempts before the message is parked, when it sets them. */
    readonly attempts?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A missing dependency was skipped (`--recovery`) or re-synced. */
export class RecoveryError extends Error {
  override readonly name = 'RecoveryError';
}

/** A message that can never be applied as it is: it is parked at once, with this reason. */
export class Unprocessable extends Error {
  override readonly name = 'Unprocessable';
}

/** A setting that cannot be used, named as the user wrote it: the environment variable when it came from there. */
export class SettingError extends Error {
  override readonly name = 'SettingError';
}

/**
 * The app's database lacks a table or column the runtime needs, or has one of a type it
 * cannot use: the message names each, and the migration that adds it; retrying will not help.
 */
export class SchemaError extends Error {
  override readonly name = 'SchemaError';
}
