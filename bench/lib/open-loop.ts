/** An open loop of writes, as requests arrive: on a fixed schedule, whatever the previous ones are doing. */
import { now, sleep } from './options.js';

/**
 * Starts `one` `rate` times a second while `more(launched)` holds, with at most `cap` in flight:
 * a start that finds them all busy waits for one, and counts as late. Resolves, once every
 * write started has ended, to the number of late starts. `minSleepMs`: the shortest pause
 * between two looks at the schedule.
 */
export async function openLoop(
  rate: number,
  cap: number,
  more: (launched: number) => boolean,
  one: () => Promise<void>,
  minSleepMs = 0,
): Promise<number> {
  const inFlight = new Set<Promise<void>>();
  const start = now();
  let launched = 0;
  let late = 0;
  while (more(launched)) {
    const due = Math.floor(((now() - start) / 1000) * rate) + 1;
    while (launched < due && more(launched)) {
      if (inFlight.size >= cap) {
        late += 1;
        await Promise.race(inFlight);
        continue;
      }
      const p: Promise<void> = one().finally(() => inFlight.delete(p));
      inFlight.add(p);
      launched += 1;
    }
    await sleep(Math.max(minSleepMs, start + (launched / rate) * 1000 - now()));
  }
  await Promise.all(inFlight);
  return late;
}
