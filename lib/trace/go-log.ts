// Go's log package prefixes every line with the local date and time
// (log.LstdFlags: "2006/01/02 15:04:05 "); the trace lines carry none, so the
// CLI can add this to look exactly like a Go program's stderr.

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `YYYY/MM/DD hh:mm:ss ` in local time, the prefix of Go's standard logger. */
export function goLogTimestamp(date: Date = new Date()): string {
  return (
    `${date.getFullYear()}/${pad(date.getMonth() + 1)}/${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} `
  );
}
