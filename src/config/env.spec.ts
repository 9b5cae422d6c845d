import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { trustProxySetting, validateEnv } from './env';

describe('validateEnv', () => {
  it('accepts .env.example as it is, and reads it as the defaults (NAME= means unset)', () => {
    const example = readFileSync(join(__dirname, '../../.env.example'), 'utf8');
    const vars = Object.fromEntries(
      example
        .split('\n')
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(Object.keys(vars).length).toBeGreaterThan(40);
    expect({ ...validateEnv(vars) }).toEqual({ ...validateEnv({}) });
    expect(validateEnv(vars).FRAUD_MAX_PURCHASES_PER_HOUR_PER_IP).toBeUndefined();
  });

  it('applies defaults and converts types', () => {
    const env = validateEnv({ PORT: '4000', MIGRATE_ON_START: 'false', SIMULATOR_OUTAGE: 'false', TRUST_PROXY: 'true' });
    expect(env.PORT).toBe(4000);
    expect(env.DATABASE_POOL_MAX).toBe(20);
    expect(env.MIGRATE_ON_START).toBe(false);
    expect(env.SIMULATOR_OUTAGE).toBe(false);
    expect(trustProxySetting(env.TRUST_PROXY)).toBe(true);
    expect(trustProxySetting('1')).toBe(1);
    expect(trustProxySetting('10.0.0.0/8, 192.168.1.1')).toEqual(['10.0.0.0/8', '192.168.1.1']);
    expect(() => validateEnv({ TRUST_PROXY: 'yes please' })).toThrow(/TRUST_PROXY/);
  });

  it('names every bad variable', () => {
    expect(() => validateEnv({ PORT: 'x', DATABASE_POOL_MAX: '0', SIMULATOR_OUTAGE: 'maybe' })).toThrow(
      /PORT=.*\n.*DATABASE_POOL_MAX=.*\n.*SIMULATOR_OUTAGE=/,
    );
  });
});
