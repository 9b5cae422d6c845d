import { isIPv4, isIPv6 } from 'node:net';

/**
 * The address a client's budget is counted under. `ip` is Fastify's request.ip: the socket's peer, or
 * the client named by X-Forwarded-For when TRUST_PROXY=true. IPv4 (also IPv4-mapped IPv6) counts per
 * address; IPv6 per /64, the block one subscriber usually gets, so that rotating addresses inside it buys
 * no fresh budget.
 */
export function clientAddressKey(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped && isIPv4(mapped[1])) return mapped[1];
  if (isIPv4(ip)) return ip;
  const address = ip.split('%')[0];
  if (!isIPv6(address)) return ip.slice(0, 64);
  return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, in lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const toGroups = (part: string) => {
    if (!part) return [];
    return part.split(':').flatMap((group) => {
      if (!group.includes('.')) return [group];
      // An embedded IPv4 tail (64:ff9b::192.0.2.1) is the last two groups.
      const [a, b, c, d] = group.split('.').map(Number);
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    });
  };
  const [head, tail] = address.toLowerCase().split('::');
  const before = toGroups(head);
  const after = tail === undefined ? [] : toGroups(tail);
  const zeros = tail === undefined ? [] : Array<string>(8 - before.length - after.length).fill('0');
  return [...before, ...zeros, ...after].map((group) => parseInt(group, 16).toString(16));
}
