/*
 * ISO 8601 timestamps for log lines and access records, which each process writes once per
 * proxied request. `new Date(ms).toISOString()` measured 0.5 µs hot and 1.8–6.8 µs in the
 * profiles of the gateway and agent (a Date per call, and cold between sparse requests); the
 * part up to the second changes once a second, so it is made once and the milliseconds are
 * appended: 0.03 µs. Same output as toISOString for every time from 1970 to 9999.
 */
let cachedSecond = Number.NaN;
let cachedPrefix = '';

/** `new Date(ms).toISOString()`, without a Date per call. */
export function isoTime(ms: number = Date.now()): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    // "YYYY-MM-DDTHH:mm:ss." — the first 20 characters of the ISO form.
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const millis = ms - second * 1000;
  return `${cachedPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}
