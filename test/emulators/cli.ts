import { parseArgs } from 'node:util';
import { EmulatorServer } from './emulator-server';
import { MercadoPagoEmulator } from './mercadopago-emulator';
import { parsePricePointSpec, SegpayEmulator } from './segpay-emulator';
import { StripeEmulator } from './stripe-emulator';

/**
 * Starts one provider emulator alone, for a person clicking through or a local Paybridge instance:
 *
 *   npx tsx test/emulators/cli.ts stripe --port 12111 --webhook-url http://localhost:3000/webhooks/stripe
 *   npx tsx test/emulators/cli.ts mercadopago --port 12112 --webhook-secret s3cret
 *   npx tsx test/emulators/cli.ts segpay --port 12113 --postback-url http://localhost:3000/webhooks/segpay/<token> \
 *       --price-point 197001:26001:19.95:USD --price-point 197001:26002:39.99:USD:39.99:30
 *
 * Prints the base URL and settings; stops on SIGINT/SIGTERM.
 */

const USAGE = `usage: npx tsx test/emulators/cli.ts <stripe|mercadopago|segpay> [options]
  --port <n>              port on 127.0.0.1 (default 0: any free port)
  --webhook-url <url>     stripe, mercadopago: where webhooks are sent
  --webhook-secret <s>    stripe, mercadopago: signing secret (default: generated for stripe, 'emulator-secret' for mercadopago)
  --api-key <key>         stripe: the only secret key accepted (default: any sk_test_…)
  --access-token <token>  mercadopago: the only access token accepted (default: any)
  --postback-url <url>    segpay: where postbacks are sent
  --price-point <spec>    segpay: package:pricepoint:price[:currency[:recurringPrice[:days]]] (repeatable)
  --merchant-id, --user-id, --user-access-key  segpay: SRS credentials
  -h, --help`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '0' },
      'webhook-url': { type: 'string' },
      'webhook-secret': { type: 'string' },
      'api-key': { type: 'string' },
      'access-token': { type: 'string' },
      'postback-url': { type: 'string' },
      'price-point': { type: 'string', multiple: true },
      'merchant-id': { type: 'string' },
      'user-id': { type: 'string' },
      'user-access-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const provider = positionals[0];
  if (values.help || !provider) {
    console.log(USAGE);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port ${values.port}`);

  const pricePoints = (values['price-point'] ?? []).map(parsePricePointSpec);
  let emulator: EmulatorServer;
  let settings: Record<string, unknown>;
  if (provider === 'stripe') {
    const secret = values['webhook-secret'] ?? `whsec_emulator_${Math.random().toString(36).slice(2)}`;
    emulator = new StripeEmulator({ webhookSecret: secret, webhookUrl: values['webhook-url'], apiKey: values['api-key'] });
    settings = {
      webhookUrl: values['webhook-url'] ?? '(none: events are recorded, not sent)',
      webhookSecret: secret,
      apiKey: values['api-key'] ?? 'any sk_test_…',
    };
  } else if (provider === 'mercadopago') {
    const secret = values['webhook-secret'] ?? 'emulator-secret';
    emulator = new MercadoPagoEmulator({ webhookSecret: secret, webhookUrl: values['webhook-url'], accessToken: values['access-token'] });
    settings = { webhookUrl: values['webhook-url'] ?? '(none: only payments with notification_url are notified)', webhookSecret: secret };
  } else if (provider === 'segpay') {
    const segpay = new SegpayEmulator({
      postbackUrl: values['postback-url'],
      merchantId: values['merchant-id'],
      userId: values['user-id'],
      userAccessKey: values['user-access-key'],
      pricePoints,
    });
    emulator = segpay;
    settings = {
      postbackUrl: values['postback-url'] ?? '(none: postbacks are recorded, not sent)',
      srsCredentials: { MerchantID: segpay.merchantId, UserID: segpay.userId, UserAccessKey: segpay.userAccessKey },
    };
  } else {
    throw new Error(`unknown provider '${provider}'\n${USAGE}`);
  }

  const url = await emulator.start(port);
  console.log(`${emulator.name} emulator listening on ${url}`);
  for (const [key, value] of Object.entries(settings))
    console.log(`  ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  if (emulator instanceof SegpayEmulator) {
    for (const pp of pricePoints)
      console.log(`  payment page: ${emulator.paymentPageUrl({ eticketId: `${pp.packageId}:${pp.pricePointId}` })}`);
  }
  if (provider === 'mercadopago') {
    console.log(`  point the SDK here: (AppConfig as { BASE_URL: string }).BASE_URL = '${url}'  (mercadopago/dist/utils/config)`);
  }
  console.log(`  control panel: ${url}/_emulator`);

  const shutdown = (signal: string): void => {
    console.log(`${signal}: stopping`);
    emulator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
