import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { createRequire } from 'node:module';
import type * as IpAddr from 'ipaddr.js';
import { InvalidOptionError } from '../errors.js';
import { effectivePort } from './proxy-url.js';

type Address = IpAddr.IPv4 | IpAddr.IPv6;

/*
 * ipaddr.js is loaded when an IP address is first parsed, not at start-up: loading it grew a
 * process by ~5 MiB of resident memory (Node 20, alongside the agent's other packages: 67.3–68.7
 * MiB without it, 72.9–75.2 with it), and most agents never see an IP literal in NO_PROXY or
 * a target.
 */
const requireFromHere = createRequire(import.meta.url);
let ipaddrModule: typeof IpAddr | undefined;
function ipaddr(): typeof IpAddr {
  return (ipaddrModule ??= requireFromHere('ipaddr.js') as typeof IpAddr);
}

type Rule =
  | { kind: 'all' }
  | { kind: 'domain'; domain: string; port: number | undefined }
  | { kind: 'ip'; address: Address; port: number | undefined }
  | { kind: 'cidr'; range: [Address, number] };

const EXPECTED =
  'comma- or space-separated entries: a host or domain (example.com, .example.com, *.example.com), ' +
  'an IP address (10.1.2.3, ::1, [::1]), a CIDR range (10.0.0.0/8, fd00::/8), any of those but CIDR ' +
  'with :port, or *';

/**
 * Whether `target` is excluded from proxying by a `NO_PROXY` value.
 *
 * Entries are separated by commas and/or whitespace and compared case-insensitively:
 * `example.com`, `.example.com` and `*.example.com` all match example.com and every
 * subdomain; an IP literal matches that address; a CIDR range matches addresses in it;
 * `host:port` / `[v6]:port` match only that port (the target's default port counts);
 * `*` matches everything. Host names are not resolved: IP and CIDR entries only match
 * targets written as IP literals.
 *
 * @throws InvalidOptionError (`NO_PROXY`) for an entry that is none of the above.
 */
export function isNoProxyMatch(target: URL, noProxy: string | undefined): boolean {
  if (noProxy === undefined) return false;
  const rules = parseNoProxy(noProxy);
  if (rules.length === 0) return false;
  const host = normalizeHost(target.hostname);
  const port = effectivePort(target);
  const address = isIP(host) === 0 ? undefined : ipaddr().process(host);
  return rules.some((rule) => {
    switch (rule.kind) {
      case 'all':
        return true;
      case 'domain':
        return (
          address === undefined &&
          (host === rule.domain || host.endsWith(`.${rule.domain}`)) &&
          (rule.port === undefined || rule.port === port)
        );
      case 'ip':
        return (
          address !== undefined &&
          address.kind() === rule.address.kind() &&
          address.toNormalizedString() === rule.address.toNormalizedString() &&
          (rule.port === undefined || rule.port === port)
        );
      case 'cidr':
        return address !== undefined && address.kind() === rule.range[0].kind() && address.match(rule.range);
    }
  });
}

/**
 * Whether `target` is a loopback host (`localhost`, `*.localhost` per RFC 6761 §6.3,
 * 127.0.0.0/8, ::1, or an IPv4-mapped loopback address). Loopback is never proxied.
 */
export function isLoopbackTarget(target: URL): boolean {
  const host = normalizeHost(target.hostname);
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 0) return false;
  return ipaddr().process(host).range() === 'loopback';
}

function parseNoProxy(value: string): Rule[] {
  const rules: Rule[] = [];
  for (const raw of value.split(/[\s,]+/)) {
    const entry = raw.toLowerCase();
    if (entry === '') continue;
    rules.push(parseEntry(entry));
  }
  return rules;
}

function parseEntry(entry: string): Rule {
  const invalid = (why: string): never => {
    throw new InvalidOptionError('NO_PROXY', `NO_PROXY entry "${entry}" ${why}; expected ${EXPECTED}`);
  };
  if (entry === '*') return { kind: 'all' };

  if (entry.includes('/')) {
    const [ip, bits, ...rest] = entry.split('/');
    // ipaddr.parseCIDR also takes shorthand IPv4 forms ("10/8"); require a real literal.
    if (rest.length > 0 || ip === undefined || isIP(ip) === 0 || !/^\d{1,3}$/.test(bits ?? '')) {
      return invalid('is not a valid CIDR range');
    }
    try {
      const [address, prefix] = ipaddr().parseCIDR(entry);
      // An IPv4-mapped IPv6 range would never match: targets are compared after ipaddr().process().
      return { kind: 'cidr', range: [address, prefix] };
    } catch {
      return invalid('is not a valid CIDR range');
    }
  }

  // Bare IPv6 literal (several colons, no brackets): no port possible.
  if (isIP(entry) === 6) return { kind: 'ip', address: ipaddr().process(entry), port: undefined };

  let host = entry;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(entry);
  if (bracketed !== null) {
    host = bracketed[1] ?? '';
    if (isIP(host) !== 6) return invalid('has brackets but no IPv6 address in them');
    if (bracketed[2] !== undefined) port = parsePort(bracketed[2], invalid);
  } else if (entry.includes(':')) {
    const colon = entry.lastIndexOf(':');
    host = entry.slice(0, colon);
    port = parsePort(entry.slice(colon + 1), invalid);
    if (host.includes(':')) return invalid('is ambiguous (write an IPv6 address with a port as [addr]:port)');
  }

  if (isIP(host) !== 0) return { kind: 'ip', address: ipaddr().process(host), port };

  // "*.example.com", ".example.com" and "example.com" all mean the domain and its subdomains
  // (curl's reading; Go does not match the apex for a leading dot, which surprises people).
  let domain = host.startsWith('*.') ? host.slice(2) : host.startsWith('.') ? host.slice(1) : host;
  domain = normalizeHost(domain);
  const ascii = domainToASCII(domain);
  if (ascii === '' || !/^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/.test(ascii)) {
    return invalid('is not a host name, domain, IP address or CIDR range');
  }
  return { kind: 'domain', domain: ascii, port };
}

function parsePort(text: string, invalid: (why: string) => never): number {
  if (!/^\d{1,5}$/.test(text)) return invalid('has a port that is not a number');
  const port = Number(text);
  if (port < 1 || port > 65535) return invalid('has a port outside 1-65535');
  return port;
}

/** Lower case, IPv6 brackets removed, one trailing dot removed ("example.com." is example.com). */
function normalizeHost(hostname: string): string {
  let host = hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}
