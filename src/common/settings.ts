import { SettingError } from './errors.js';
import { redact } from './redact.js';

/** The runtime settings, after the environment's overrides. */
export interface RuntimeSettings {
  readonly app: string | undefined;
  readonly amqpUrl: string;
  readonly redisUrl: string;
  readonly backend: 'amqp' | 'memory' | 'null';
  /** Prefix of exchange and queue names (`PROMISCUOUS_NAMESPACE`, default `promiscuous`). */
  readonly namespace: string;
  /** `PROMISCUOUS_QUEUE_EXPIRES_MS`: RabbitMQ deletes the namespace's unused queues after it (tests only). */
  readonly queueExpiresMs: number | undefined;
}

export interface RuntimeInput {
  readonly app?: string;
  readonly amqpUrl?: string;
  readonly redisUrl?: string;
  readonly namespace?: string;
  readonly backend?: string;
}

/**
 * The settings of the CLI and of programs on the API alike: each config value overridden by its
 * `PROMISCUOUS_*` environment variable when set, then checked.
 */
export function runtimeSettings(config: RuntimeInput = {}, env: NodeJS.ProcessEnv = process.env): RuntimeSettings {
  const pick = (key: keyof RuntimeInput, variable: string) =>
    env[variable] !== undefined && env[variable] !== ''
      ? { value: env[variable] as string, name: variable }
      : { value: config[key], name: `\`${key}\`` };
  const backend = pick('backend', 'PROMISCUOUS_BACKEND');
  if (backend.value !== undefined && !['amqp', 'memory', 'null'].includes(backend.value)) {
    throw new SettingError(`${backend.name} is \`${backend.value}\`: use amqp, memory or null`);
  }
  const amqpUrl = url(pick('amqpUrl', 'PROMISCUOUS_AMQP_URL'), ['amqp:', 'amqps:']);
  const redisUrl = url(pick('redisUrl', 'PROMISCUOUS_REDIS_URL'), ['redis:', 'rediss:']);
  const namespace = pick('namespace', 'PROMISCUOUS_NAMESPACE');
  if (namespace.value !== undefined && !/^[A-Za-z0-9_.-]+$/.test(namespace.value)) {
    throw new SettingError(`${namespace.name} is \`${namespace.value}\`: use letters, digits, \`_\`, \`.\` and \`-\``);
  }
  const expires = env.PROMISCUOUS_QUEUE_EXPIRES_MS;
  if (expires !== undefined && !/^[1-9][0-9]*$/.test(expires)) {
    throw new SettingError(`PROMISCUOUS_QUEUE_EXPIRES_MS is \`${expires}\`: use a whole number of milliseconds`);
  }
  return {
    app: pick('app', 'PROMISCUOUS_APP').value,
    amqpUrl: amqpUrl ?? 'amqp://guest:guest@127.0.0.1:5672',
    redisUrl: redisUrl ?? 'redis://127.0.0.1:6379',
    backend: (backend.value ?? 'amqp') as RuntimeSettings['backend'],
    namespace: namespace.value ?? 'promiscuous',
    queueExpiresMs: expires === undefined ? undefined : Number(expires),
  };
}

/** A URL setting, checked for one of its protocols; the message never shows its password. */
function url(setting: { value: string | undefined; name: string }, protocols: readonly string[]): string | undefined {
  if (setting.value === undefined) return undefined;
  let protocol: string;
  try {
    protocol = new URL(setting.value).protocol;
  } catch {
    throw new SettingError(`${setting.name} is not a URL: write ${protocols[0]}//host:port`);
  }
  if (!protocols.includes(protocol)) {
    throw new SettingError(
      `${setting.name} is a ${protocol} URL: use ${protocols.join(' or ')} (${redact(setting.value)})`,
    );
  }
  return setting.value;
}

/**
 * A Knex config from a database URL (`PROMISCUOUS_DATABASE_URL`): `postgres://`, `mysql://`
 * (or `mariadb://`), or `sqlite:<file>`; its driver must be installed.
 */
export function databaseFromUrl(value: string): {
  client: string;
  connection: string | { filename: string };
  useNullAsDefault?: boolean;
} {
  const scheme = /^([a-z0-9+]+):/i.exec(value)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return { client: 'pg', connection: value };
  if (scheme === 'mysql' || scheme === 'mariadb') {
    return { client: 'mysql2', connection: value.replace(/^mariadb:/i, 'mysql:') };
  }
  if (scheme === 'sqlite' || scheme === 'file') {
    const filename = value.slice(scheme.length + 1).replace(/^\/\//, '');
    return { client: 'better-sqlite3', connection: { filename }, useNullAsDefault: true };
  }
  throw new SettingError(
    `PROMISCUOUS_DATABASE_URL has ${scheme ? `scheme ${scheme}:` : 'no scheme'}: use postgres://, mysql://, mariadb:// or sqlite:<file>`,
  );
}
