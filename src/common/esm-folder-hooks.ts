/**
 * Module hooks (see `loadAsEsm`): modules under one folder are ES modules. Runs on Node's
 * loader thread, so it imports nothing and keeps its state to itself.
 */
let folder = '';

export function initialize(data: { folder: string }): void {
  folder = data.folder;
}

interface Resolved {
  readonly url: string;
  readonly format?: string | null;
}

export async function resolve(
  specifier: string,
  context: unknown,
  next: (specifier: string, context: unknown) => Promise<Resolved>,
): Promise<Resolved> {
  const resolved = await next(specifier, context);
  if (resolved.url.startsWith(folder) && /\.[jt]s$/.test(resolved.url)) return { ...resolved, format: 'module' };
  return resolved;
}
