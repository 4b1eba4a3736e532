import { lookup, promises as dnsPromises, type LookupAllOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

/**
 * Which webhook targets the server may call. A project admin chooses the URL, so without a
 * guard the server would call whatever it can reach: its own loopback services, the cloud
 * metadata address (169.254.169.254), the private network. Addresses in those ranges are
 * refused, checked on the resolved address both when a webhook is made and at each delivery
 * (a name may resolve elsewhere later), unless the host is named in
 * GRADWATCH_WEBHOOK_ALLOW_HOSTS.
 */

/** [network, prefix length] of IPv4 ranges that are not the public internet. */
const V4_BLOCKED: Array<[string, number]> = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
];

const v4ToInt = (ip: string): number => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);

const V4_RANGES = V4_BLOCKED.map(([net, bits]) => {
  const size = 2 ** (32 - bits);
  const start = v4ToInt(net);
  return [start, start + size - 1] as const;
});

const isPrivateV4 = (n: number): boolean => V4_RANGES.some(([lo, hi]) => n >= lo && n <= hi);

/** The eight 16-bit groups of an IPv6 address (with any embedded dotted IPv4 tail). */
function v6Groups(ip: string): number[] | null {
  let s = ip.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const n = v4ToInt(dotted[1] as string);
    s = `${s.slice(0, -(dotted[1] as string).length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail, extra] = s.split('::');
  if (extra !== undefined) return null;
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  if (fill < 0) return null;
  const groups = [...h, ...Array<string>(fill).fill('0'), ...t].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

const v4Of = (hi: number, lo: number): number => hi * 65536 + lo;

/** Whether an IP address is loopback, link-local, private, shared, reserved or multicast. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip.replace(/%.*$/, ''));
  if (family === 4) return isPrivateV4(v4ToInt(ip));
  if (family !== 6) return true; // not an address: refuse rather than guess
  const g = v6Groups(ip);
  if (!g) return true;
  const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, x = 0, y = 0] = g;
  const zeroTo80 = a === 0 && b === 0 && c === 0 && d === 0 && e === 0;
  if (zeroTo80 && f === 0) return x === 0 || isPrivateV4(v4Of(x, y)); // ::, ::1, IPv4-compatible
  if (zeroTo80 && f === 0xffff) return isPrivateV4(v4Of(x, y)); // IPv4-mapped
  if (a === 0x64 && b === 0xff9b) return c !== 0 || d !== 0 || e !== 0 || f !== 0 || isPrivateV4(v4Of(x, y)); // NAT64; 64:ff9b:1::/48 is local
  if (a === 0x2002) return isPrivateV4(v4Of(b, c)); // 6to4 carries an IPv4 address
  if (a === 0x2001 && b === 0) return true; // Teredo
  if (a === 0x2001 && b === 0xdb8) return true; // documentation
  if (a === 0x100 && b === 0 && c === 0 && d === 0) return true; // discard
  if ((a & 0xfe00) === 0xfc00) return true; // unique local
  if ((a & 0xffc0) === 0xfe80 || (a & 0xffc0) === 0xfec0) return true; // link-local, site-local
  if ((a & 0xff00) === 0xff00) return true; // multicast
  return false;
}

/** A target the guard refuses; its message says which address and how to allow it. */
export class BlockedTarget extends Error {
  constructor(host: string, address: string) {
    super(
      `${host}${address === host ? '' : ` resolves to ${address}, which`} is a loopback, link-local, private or reserved address; ` +
        'webhooks may call it only if the server is started with the host in GRADWATCH_WEBHOOK_ALLOW_HOSTS',
    );
    this.name = 'BlockedTarget';
  }
}

/** The host of a URL as the guard compares it: lower case, without IPv6 brackets. */
export const hostOf = (url: URL): string => url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');

export class TargetGuard {
  private readonly allowed: ReadonlySet<string>;

  constructor(allowHosts: readonly string[]) {
    this.allowed = new Set(allowHosts);
  }

  allows(host: string): boolean {
    return this.allowed.has(host);
  }

  /** Throws BlockedTarget (or a resolution error) unless every address of the URL's host may be called. */
  async check(url: URL): Promise<void> {
    const host = hostOf(url);
    if (this.allows(host)) return;
    if (isIP(host)) {
      if (isPrivateAddress(host)) throw new BlockedTarget(host, host);
      return;
    }
    const addresses = await dnsPromises.lookup(host, { all: true, verbatim: true });
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) throw new BlockedTarget(host, bad.address);
  }

  /**
   * The lookup an outgoing request uses: the address it connects to is the one checked, so a
   * name that resolves to a public address at check time and a private one at connect time
   * (DNS rebinding) is still refused. IP literals never reach a lookup: check() covers them.
   */
  lookupFor(host: string): LookupFunction | undefined {
    if (this.allows(host)) return undefined;
    const guarded = (hostname: string, options: { all?: boolean; family?: number | string; hints?: number }, callback: (...args: unknown[]) => void): void => {
      lookup(hostname, { ...(options as LookupAllOptions), all: true, verbatim: true }, (err, addresses) => {
        if (err) return callback(err);
        const bad = addresses.find((a) => isPrivateAddress(a.address));
        if (bad) return callback(new BlockedTarget(hostname, bad.address));
        const first = addresses[0];
        if (!first) return callback(new Error(`${hostname} has no address`));
        if (options.all) return callback(null, addresses);
        return callback(null, first.address, first.family);
      });
    };
    return guarded as unknown as LookupFunction;
  }
}
