import { existsSync, readFileSync } from 'node:fs';

/**
 * Polls a child process's log file until `pattern` matches (a port it printed, a "connected"
 * line), for at most `timeoutMs`; on timeout the error carries the file's last 2,000 characters.
 */
export async function waitForFile(file: string, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const match = pattern.exec(text);
    if (match !== null) return match;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in ${file}:\n${text.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
