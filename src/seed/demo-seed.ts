import type { INestApplicationContext } from '@nestjs/common';
import { ApiKeysRepository } from '../auth/api-keys.repository';
import { ApiKeysService } from '../auth/api-keys.service';
import { DEFAULT_MERCHANT_ID, KEY_KINDS } from '../auth/auth.types';
import type { CreateProductDto } from '../products/dto/product.dto';
import { ProductsService } from '../products/products.service';

export const DEMO_CATALOG: CreateProductDto[] = [
  {
    name: 'Starter Kit',
    description: 'One-time purchase',
    prices: [
      { currency: 'USD', amount: 2999 },
      { currency: 'BRL', amount: 14990 },
      { currency: 'JPY', amount: 4500 },
    ],
  },
  {
    name: 'Pro Plan',
    description: 'Monthly subscription',
    billingType: 'SUBSCRIPTION',
    interval: 'month',
    prices: [
      { currency: 'USD', amount: 999 },
      { currency: 'BRL', amount: 4990 },
    ],
  },
  {
    name: 'Pro Plan (yearly)',
    billingType: 'SUBSCRIPTION',
    interval: 'year',
    prices: [
      { currency: 'USD', amount: 9999 },
      { currency: 'BRL', amount: 49900 },
    ],
  },
  {
    name: 'Gift Card 50',
    type: 'GIFT_CARD',
    prices: [
      { currency: 'USD', amount: 5000 },
      { currency: 'BRL', amount: 25000 },
    ],
  },
];

export interface SeedLog {
  log(message: string): void;
}

/**
 * First start of an embedded database: a demo catalog and one key of each kind, printed once (the
 * keys are stored only as hashes). Does nothing when the default merchant already has keys.
 */
export async function seedDemo(app: INestApplicationContext, log: SeedLog): Promise<boolean> {
  if ((await app.get(ApiKeysRepository).countByMerchant(DEFAULT_MERCHANT_ID)) > 0) return false;
  const products = app.get(ProductsService);
  for (const product of DEMO_CATALOG) await products.create(DEFAULT_MERCHANT_ID, product);
  const keys = app.get(ApiKeysService);
  const lines = [];
  for (const kind of KEY_KINDS) {
    const key = await keys.create(DEFAULT_MERCHANT_ID, kind, 'dev key (demo seed)');
    lines.push(`  ${kind.padEnd(12)} ${key.secret}`);
  }
  log.log(`Demo catalog seeded (${DEMO_CATALOG.length} products). Dev API keys, shown this once:\n${lines.join('\n')}`);
  return true;
}
