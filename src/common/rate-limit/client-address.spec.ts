import { clientAddressKey } from './client-address';

describe('clientAddressKey (the address a budget is counted under)', () => {
  it('counts IPv4 per address, IPv4-mapped IPv6 as the IPv4 address', () => {
    expect(clientAddressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddressKey('::FFFF:127.0.0.1')).toBe('127.0.0.1');
  });

  it('counts IPv6 per /64, whatever the spelling of the address', () => {
    const key = '2001:db8:85a3:1::/64';
    expect(clientAddressKey('2001:db8:85a3:1::1')).toBe(key);
    expect(clientAddressKey('2001:0DB8:85A3:0001:ffff:ffff:ffff:fffe')).toBe(key);
    expect(clientAddressKey('2001:db8:85a3:1:0:0:0:0%eth0')).toBe(key);
    expect(clientAddressKey('2001:db8:85a3:2::1')).not.toBe(key);
    expect(clientAddressKey('::1')).toBe('0:0:0:0::/64');
    expect(clientAddressKey('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(clientAddressKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    expect(clientAddressKey('fe80:0:0:5::c000:201')).toBe('fe80:0:0:5::/64');
  });

  it('keeps anything else bounded', () => {
    expect(clientAddressKey(undefined)).toBe('unknown');
    expect(clientAddressKey('')).toBe('unknown');
    expect(clientAddressKey('x'.repeat(100))).toHaveLength(64);
  });
});
