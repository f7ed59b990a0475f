/**
 * Trace context from the publisher's transaction to the subscriber's apply, through the outbox,
 * the relay and the real RabbitMQ. The test registers the smallest OpenTelemetry pieces it
 * needs through the API's global registration (no SDK): a context manager on
 * AsyncLocalStorage, a W3C `traceparent` propagator, and a tracer that records its spans.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import {
  type Context,
  type ContextManager,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanAttributes,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Hooks, Virtuals } from '../../examples/users/generated/crowdtap/publisher.js';
import { type Envelope, Metrics, Publisher, Subscriber, toOutgoing } from '../../src/runtime/index.js';
import type { Callbacks, Sinks } from '../../examples/users/generated/sniper/subscriber.js';
import { eventually } from '../helpers/services.js';
import { closeWorld, manualPublisher, member, openWorld, takeOutbox, type World as Fixture } from '../helpers/world.js';
import { crowdtap, newUser, sniper, virtuals } from '../helpers/users-app.js';

class RecordedSpan implements Span {
  readonly context: SpanContext;
  readonly attributes: SpanAttributes;
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  readonly exceptions: unknown[] = [];
  ended = false;

  constructor(
    readonly name: string,
    readonly kind: SpanKind | undefined,
    readonly parent: SpanContext | undefined,
    attributes: SpanAttributes | undefined,
  ) {
    const id = (bytes: number) => randomBytes(bytes).toString('hex');
    this.context = { traceId: parent?.traceId ?? id(16), spanId: id(8), traceFlags: 1 };
    this.attributes = { ...attributes };
  }
  spanContext(): SpanContext {
    return this.context;
  }
  setAttribute(key: string, value: SpanAttributes[string]): this {
    this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: SpanAttributes): this {
    Object.assign(this.attributes, attributes);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {
    this.ended = true;
  }
  isRecording(): boolean {
    return !this.ended;
  }
  recordException(exception: unknown): void {
    this.exceptions.push(exception);
  }
}

const spans: RecordedSpan[] = [];

const tracer: Tracer = {
  startSpan(name: string, options?: SpanOptions, parent?: Context): Span {
    const span = new RecordedSpan(
      name,
      options?.kind,
      trace.getSpanContext(parent ?? context.active()),
      options?.attributes,
    );
    spans.push(span);
    return span;
  },
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    const fn = args.pop() as F;
    const [options, parent] = args as [SpanOptions | undefined, Context | undefined];
    const base = parent ?? context.active();
    const span = this.startSpan(name, options, base);
    return context.with(trace.setSpan(base, span), () => fn(span)) as ReturnType<F>;
  },
};

const provider: TracerProvider = { getTracer: () => tracer };

const storage = new AsyncLocalStorage<Context>();
const contextManager: ContextManager = {
  active: () => storage.getStore() ?? ROOT_CONTEXT,
  with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.call(thisArg, ...args)),
  bind: (_ctx, target) => target,
  enable() {
    return this;
  },
  disable() {
    return this;
  },
};

/** W3C trace context, `traceparent` only: `00-<trace id>-<span id>-<flags>`. */
const propagator: TextMapPropagator = {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter) {
    const span = trace.getSpanContext(ctx);
    if (span) setter.set(carrier, 'traceparent', `00-${span.traceId}-${span.spanId}-01`);
  },
  extract(ctx: Context, carrier: unknown, getter: TextMapGetter) {
    const header = getter.get(carrier, 'traceparent');
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(String(header ?? ''));
    if (!match) return ctx;
    return trace.setSpanContext(ctx, {
      traceId: match[1] as string,
      spanId: match[2] as string,
      traceFlags: 1,
      isRemote: true,
    });
  },
  fields: () => ['traceparent'],
};

interface World extends Fixture {
  subscriber: Subscriber<Callbacks, Sinks>;
  manual: Publisher<Hooks, Virtuals>;
}

/** The span active in each send of the User sink, by user name. */
const sendSpans = new Map<string, SpanContext | undefined>();

const test = suite<World>('trace context, postgres -> sqlite', {} as World);

test.before(async (world) => {
  assert.ok(context.setGlobalContextManager(contextManager), 'the context manager is registered');
  assert.ok(trace.setGlobalTracerProvider(provider), 'the tracer provider is registered');
  assert.ok(propagation.setGlobalPropagator(propagator), 'the propagator is registered');
  Object.assign(world, await openWorld({ pub: 'postgres', sub: 'sqlite' }));
  world.manual = manualPublisher(world, { metrics: new Metrics() });
  world.subscriber = new Subscriber({
    schema: sniper,
    knex: world.sub.knex,
    transport: world.transport,
    metrics: new Metrics(),
    mode: 'recovery',
    sinks: {
      User: ({ payload }) => {
        const name = payload?.name ?? '';
        const failing = name === 'Failing' && !sendSpans.has(name);
        sendSpans.set(name, trace.getActiveSpan()?.spanContext());
        if (failing) throw new Error('the API is down');
      },
    },
  });
  await world.subscriber.start();
});

test.after(async (world) => {
  await closeWorld(world, world.subscriber, world.manual);
  // Back to the API's no-ops for the test files that run after this one.
  trace.disable();
  propagation.disable();
  context.disable();
});

const applySpans = (traceId?: string) =>
  spans.filter(
    (s) => s.name === 'promiscuous apply sniper' && (traceId === undefined || s.context.traceId === traceId),
  );

test("the subscriber's apply span is the child of the span around the publisher's transaction", async (world) => {
  const live = new Publisher({
    schema: crowdtap,
    knex: world.pub.knex,
    transport: world.transport,
    virtuals,
    metrics: new Metrics(),
  });
  const yoda = newUser('Yoda');
  let request: SpanContext | undefined;
  await trace.getTracer('test').startActiveSpan('POST /users', async (span) => {
    request = span.spanContext();
    await live.transaction(async (tx) => void (await tx.User.create(yoda)));
    span.end();
  });
  await live.relay?.flush();
  if (!request) throw new Error('the request span ran');
  const [applied] = await eventually(async () => {
    const found = applySpans(request?.traceId).filter((s) => s.ended);
    return found.length > 0 ? found : undefined;
  }, 10_000);
  assert.ok(await member(world, yoda.id));
  assert.is(applied?.parent?.spanId, request.spanId, "the request's span is the apply's parent");
  assert.ok(applied?.parent?.isRemote, 'the parent came through the message');
  assert.is(applied?.kind, SpanKind.CONSUMER);
  assert.is(applied?.attributes['promiscuous.publisher'], 'crowdtap');
  assert.is(applied?.status.code, SpanStatusCode.UNSET);
  await live.close();
});

test('a transaction outside any span carries no trace context, and its apply starts a trace of its own', async (world) => {
  const han = newUser('Han');
  await world.manual.transaction(async (tx) => void (await tx.User.create(han)));
  const [created] = await takeOutbox(world);
  if (!created) throw new Error('one message expected');
  assert.not.ok('trace' in created, 'no trace field');

  const before = new Set(applySpans());
  await world.transport.publish([toOutgoing(created)]);
  await eventually(() => member(world, han.id), 5_000);
  const [applied] = await eventually(async () => {
    const found = applySpans().filter((s) => !before.has(s) && s.ended);
    return found.length > 0 ? found : undefined;
  });
  assert.is(applied?.parent, undefined);
});

test('an apply that parks its message marks its span as failed', async (world) => {
  const leia = newUser('Leia');
  let request: SpanContext | undefined;
  await trace.getTracer('test').startActiveSpan('POST /users', async (span) => {
    request = span.spanContext();
    await world.manual.transaction(async (tx) => void (await tx.User.create(leia)));
    span.end();
  });
  const [created] = await takeOutbox(world);
  if (!created || !request) throw new Error('one message expected');
  assert.is(created.trace?.traceparent, `00-${request.traceId}-${request.spanId}-01`);

  const [operation] = created.operations;
  if (!operation) throw new Error('one operation expected');
  const broken: Envelope = {
    ...created,
    operations: [{ ...operation, attributes: { ...operation.attributes, name: 42 } }],
  };
  await world.transport.publish([toOutgoing(broken)]);
  const [applied] = await eventually(async () => {
    const found = applySpans(request?.traceId).filter((s) => s.ended);
    return found.length > 0 ? found : undefined;
  });
  assert.is(applied?.status.code, SpanStatusCode.ERROR);
  assert.match(applied?.status.message ?? '', /parked: .*does not fit/);
  assert.is(applied?.exceptions.length, 1);
});

/** Creates a user in a request's span, and delivers its message: resolves to the request's span. */
async function createInRequest(world: World, name: string): Promise<SpanContext> {
  let request: SpanContext | undefined;
  await trace.getTracer('test').startActiveSpan('POST /users', async (span) => {
    request = span.spanContext();
    await world.manual.transaction(async (tx) => void (await tx.User.create(newUser(name))));
    span.end();
  });
  await world.transport.publish((await takeOutbox(world)).map(toOutgoing));
  if (!request) throw new Error('the request span ran');
  return request;
}

const sinkSpans = (parent: RecordedSpan) =>
  spans.filter((s) => s.name === 'promiscuous sink User' && s.parent?.spanId === parent.context.spanId);

test("a sink's send runs in a span of its own, the child of the message's apply span", async (world) => {
  const request = await createInRequest(world, 'Mara');
  const [applied] = await eventually(async () => {
    const found = applySpans(request.traceId).filter((s) => s.ended);
    return found.length > 0 ? found : undefined;
  });
  if (!applied) throw new Error('an apply span');
  const [sink, ...more] = sinkSpans(applied);
  assert.equal(more, []);
  assert.ok(sink?.ended);
  assert.is(sink?.kind, SpanKind.CLIENT);
  assert.is(sink?.attributes['promiscuous.sink'], 'User');
  assert.is(sink?.attributes['promiscuous.operation'], 'create');
  assert.is(sink?.status.code, SpanStatusCode.UNSET);
  assert.is(sendSpans.get('Mara')?.spanId, sink?.context.spanId, 'the span is active while the sink sends');
});

test('a send that throws marks its span as failed, and the apply span with it', async (world) => {
  const request = await createInRequest(world, 'Failing');
  const [applied] = await eventually(async () => {
    const found = applySpans(request.traceId).filter((s) => s.ended);
    return found.length > 0 ? found : undefined;
  });
  if (!applied) throw new Error('an apply span');
  const [sink] = sinkSpans(applied);
  assert.is(sink?.status.code, SpanStatusCode.ERROR);
  assert.match(sink?.status.message ?? '', 'sink User failed: the API is down');
  assert.is(applied.status.code, SpanStatusCode.ERROR);
});

test.run();
