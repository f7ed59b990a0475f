import type { Output } from './output.js';
import { withAppRuntime } from './runtime.js';

/** `promiscuous parked list|retry|drop [ids...]`: the messages the app's subscriber gave up on. */
export function parked(
  action: 'list' | 'retry' | 'drop',
  ids: readonly string[],
  options: { config?: string; app?: string },
  output: Output,
): Promise<number> {
  return withAppRuntime(options, output, async (runtime) => {
    const only = ids.length > 0 ? ids : undefined;
    if (action === 'list') {
      const messages = await runtime.transport.parked(runtime.app);
      for (const m of messages) {
        output.info(
          `${m.messageId ?? '(no id)'}  ${new Date(m.parkedAt).toISOString()}  attempts ${m.attempts}  ${m.reason}`,
        );
      }
      output.info(`${messages.length} parked message${messages.length === 1 ? '' : 's'} for ${runtime.app}`);
    } else if (action === 'retry') {
      output.info(
        `${await runtime.transport.retryParked(runtime.app, only)} message(s) moved back to ${runtime.app}'s queue`,
      );
    } else {
      output.info(`${await runtime.transport.dropParked(runtime.app, only)} message(s) dropped`);
    }
    return 0;
  });
}
