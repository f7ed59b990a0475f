/** A URL fit for logs and error messages: the password replaced. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

/** The user and password of a URL written in a text (`amqp://user:secret@host`). */
const credentials = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*):[^\s@/]*@/gi;

/** A text fit for logs: the password of every URL in it replaced. */
export function redactText(text: string): string {
  return text.includes('://') ? text.replace(credentials, '$1:***@') : text;
}
