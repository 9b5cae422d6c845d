import { currencyExponent } from '../../common/money';
import type { PaymentNotice } from './notifications.repository';

export type Locale = 'en' | 'pt-BR';

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** Brazilian customers read Portuguese; everyone else English. */
export function localeForCountry(country: string | null | undefined): Locale {
  return country === 'BR' ? 'pt-BR' : 'en';
}

export function formatMoney(minor: number, currency: string, locale: Locale): string {
  const exponent = currencyExponent(currency);
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    minimumFractionDigits: exponent,
    maximumFractionDigits: exponent,
  }).format(minor / 10 ** exponent);
}

const TEXTS = {
  en: {
    receiptSubject: (amount: string) => `Your receipt: ${amount}`,
    receiptIntro: 'Thank you for your purchase. Here is your receipt.',
    refundSubject: (amount: string) => `Refund of ${amount}`,
    refundIntro: (amount: string) => `We refunded ${amount} to your payment method. It can take a few days to appear.`,
    payment: 'Payment',
    total: 'Total',
    refunded: 'Refunded in total',
    giftSubject: 'You received a gift card',
    giftIntro: (amount: string) => `You received a gift card worth ${amount}.`,
    giftCode: 'Your code',
    giftMessage: 'Message',
    giftExpires: (date: string) => `Valid until ${date}.`,
  },
  'pt-BR': {
    receiptSubject: (amount: string) => `Seu recibo: ${amount}`,
    receiptIntro: 'Obrigado pela sua compra. Aqui está o seu recibo.',
    refundSubject: (amount: string) => `Reembolso de ${amount}`,
    refundIntro: (amount: string) => `Reembolsamos ${amount} na sua forma de pagamento. Pode levar alguns dias para aparecer.`,
    payment: 'Pagamento',
    total: 'Total',
    refunded: 'Total reembolsado',
    giftSubject: 'Você recebeu um cartão-presente',
    giftIntro: (amount: string) => `Você recebeu um cartão-presente no valor de ${amount}.`,
    giftCode: 'Seu código',
    giftMessage: 'Mensagem',
    giftExpires: (date: string) => `Válido até ${date}.`,
  },
} as const;

export function receiptEmail(payment: PaymentNotice, locale: Locale): RenderedEmail {
  const t = TEXTS[locale];
  const money = (minor: number) => formatMoney(minor, payment.currency, locale);
  const lines = payment.lines.map((l) => `${l.quantity} × ${l.name}: ${money(l.amount)}`);
  const text = [t.receiptIntro, '', ...lines, '', `${t.total}: ${money(payment.amount)}`, `${t.payment}: ${payment.id}`].join('\n');
  const html = page(
    `<p>${esc(t.receiptIntro)}</p><table>${payment.lines
      .map((l) => `<tr><td>${l.quantity} × ${esc(l.name)}</td><td align="right">${esc(money(l.amount))}</td></tr>`)
      .join(
        '',
      )}<tr><td><strong>${esc(t.total)}</strong></td><td align="right"><strong>${esc(money(payment.amount))}</strong></td></tr></table><p>${esc(t.payment)}: ${esc(payment.id)}</p>`,
  );
  return { subject: t.receiptSubject(money(payment.amount)), text, html };
}

export function refundEmail(payment: PaymentNotice, refundAmount: number, locale: Locale): RenderedEmail {
  const t = TEXTS[locale];
  const money = (minor: number) => formatMoney(minor, payment.currency, locale);
  const intro = t.refundIntro(money(refundAmount));
  const text = [intro, '', `${t.refunded}: ${money(payment.amountRefunded)}`, `${t.payment}: ${payment.id}`].join('\n');
  const html = page(
    `<p>${esc(intro)}</p><p>${esc(t.refunded)}: ${esc(money(payment.amountRefunded))}</p><p>${esc(t.payment)}: ${esc(payment.id)}</p>`,
  );
  return { subject: t.refundSubject(money(refundAmount)), text, html };
}

export interface GiftCardNotice {
  code: string;
  amount: number;
  currency: string;
  giftMessage: string | null;
  expiresAt: string | null;
}

export function giftCardEmail(card: GiftCardNotice, locale: Locale): RenderedEmail {
  const t = TEXTS[locale];
  const intro = t.giftIntro(formatMoney(card.amount, card.currency, locale));
  const expires = card.expiresAt
    ? t.giftExpires(new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(card.expiresAt)))
    : '';
  const text = [
    intro,
    '',
    `${t.giftCode}: ${card.code}`,
    ...(card.giftMessage ? ['', `${t.giftMessage}: ${card.giftMessage}`] : []),
    ...(expires ? ['', expires] : []),
  ].join('\n');
  const html = page(
    `<p>${esc(intro)}</p><p>${esc(t.giftCode)}: <strong style="font-family:monospace;font-size:1.3em">${esc(card.code)}</strong></p>` +
      (card.giftMessage ? `<blockquote>${esc(card.giftMessage)}</blockquote>` : '') +
      (expires ? `<p>${esc(expires)}</p>` : ''),
  );
  return { subject: t.giftSubject, text, html };
}

function page(body: string): string {
  return `<!doctype html><html><body style="font-family:sans-serif">${body}</body></html>`;
}

/** Names and messages come from customers: escaped before they reach HTML. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
