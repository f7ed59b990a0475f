import { Ajv, type ValidateFunction } from 'ajv';
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
 * Each setting the environment can give: its variable, its JSON Schema, and what to write
 * instead of a value that does not fit it.
 */
const known = {
  app: { variable: 'PROMISCUOUS_APP', schema: { type: 'string', minLength: 1 }, fix: 'name an app of the routes' },
  amqpUrl: {
    variable: 'PROMISCUOUS_AMQP_URL',
    schema: { type: 'string', pattern: '^amqps?://\\S+$' },
    fix: 'use an amqp:// or amqps:// URL',
  },
  redisUrl: {
    variable: 'PROMISCUOUS_REDIS_URL',
    schema: { type: 'string', pattern: '^rediss?://\\S+$' },
    fix: 'use a redis:// or rediss:// URL',
  },
  namespace: {
    variable: 'PROMISCUOUS_NAMESPACE',
    schema: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
    fix: 'use letters, digits, `_`, `.` and `-`',
  },
  backend: {
    variable: 'PROMISCUOUS_BACKEND',
    schema: { enum: ['amqp', 'memory', 'null'] },
    fix: 'use amqp, memory or null',
  },
  queueExpiresMs: {
    variable: 'PROMISCUOUS_QUEUE_EXPIRES_MS',
    schema: { type: 'string', pattern: '^[1-9][0-9]*$' },
    fix: 'use a whole number of milliseconds',
  },
} as const;

type Known = keyof typeof known;

let check: ValidateFunction | undefined;

/** The settings' schema, compiled once, when first needed. */
function validator(): ValidateFunction {
  check ??= new Ajv({ allErrors: false }).compile({
    type: 'object',
    properties: Object.fromEntries(Object.entries(known).map(([key, setting]) => [key, setting.schema])),
  });
  return check;
}

/**
 * The settings of the CLI and of programs on the API alike: each config value overridden by its
 * `PROMISCUOUS_*` environment variable when set (an empty one counts as unset), then checked
 * against one schema; a value that does not fit stops with a SettingError naming where it came
 * from.
 */
export function runtimeSettings(config: RuntimeInput = {}, env: NodeJS.ProcessEnv = process.env): RuntimeSettings {
  const values: Partial<Record<Known, unknown>> = {};
  const from: Partial<Record<Known, string>> = {};
  for (const [key, { variable }] of Object.entries(known) as [Known, (typeof known)[Known]][]) {
    const fromEnv = env[variable];
    if (fromEnv !== undefined && fromEnv !== '') [values[key], from[key]] = [fromEnv, variable];
    else if (key !== 'queueExpiresMs' && config[key] !== undefined)
      [values[key], from[key]] = [config[key], `\`${key}\``];
  }
  const validate = validator();
  if (!validate(values)) {
    const key = (validate.errors?.[0]?.instancePath ?? '').slice(1) as Known;
    const shown = redact(String(values[key]));
    throw new SettingError(`${from[key] ?? key} is \`${shown}\`: ${known[key]?.fix ?? validate.errors?.[0]?.message}`);
  }
  const value = (key: Known) => values[key] as string | undefined;
  return {
    app: value('app'),
    amqpUrl: value('amqpUrl') ?? 'amqp://guest:guest@127.0.0.1:5672',
    redisUrl: value('redisUrl') ?? 'redis://127.0.0.1:6379',
    backend: (value('backend') ?? 'amqp') as RuntimeSettings['backend'],
    namespace: value('namespace') ?? 'promiscuous',
    queueExpiresMs: value('queueExpiresMs') === undefined ? undefined : Number(value('queueExpiresMs')),
  };
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
