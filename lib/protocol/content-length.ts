/** The Content-Length a raw header list declares: -1 without one, NaN when it is not a number. */
export function contentLength(headers: readonly string[]): number {
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() === 'content-length') return Number(headers[i + 1]);
  }
  return -1;
}
