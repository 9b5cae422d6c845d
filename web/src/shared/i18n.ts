export type Locale = 'en' | 'pt-BR' | 'es';

const en = {
  checkoutTitle: 'Checkout',
  orderSummary: 'Order summary',
  item: 'Item',
  quantity: 'Qty',
  amount: 'Amount',
  subtotal: 'Subtotal',
  discount: 'Discount',
  giftCard: 'Gift card',
  total: 'Total to pay',
  couponLabel: 'Coupon code',
  applyCoupon: 'Apply coupon',
  giftCardLabel: 'Gift card code',
  applyGiftCard: 'Apply gift card',
  couponApplied: 'Coupon applied',
  giftCardApplied: 'Gift card ending in {last4} applied',
  payWith: 'Pay with',
  chooseProvider: 'Payment method',
  continueToPay: 'Continue to payment',
  cancelAndReturn: 'Cancel and return to the shop',
  working: 'Please wait…',
  declined: 'Your payment was declined ({code}). No money was taken. You can try again or choose another method.',
  returned: 'The payment was not completed. You can try again.',
  complete: 'This order is paid. Thank you!',
  expired: 'This checkout has expired. Return to the shop to start again.',
  canceled: 'This checkout was canceled.',
  backToShop: 'Back to the shop',
  notFound: 'This checkout does not exist.',
  paidByGiftCard: 'Paid in full with your gift card.',
  error: 'Something went wrong: {message}',
  // Console
  consoleTitle: 'Paybridge console',
  signIn: 'Sign in',
  adminKey: 'Admin API key',
  signInFailed: 'That key is not an active admin key.',
  signOut: 'Sign out',
  // Portal
  portalTitle: 'Your account',
  transactions: 'Your payments',
  receipt: 'Receipt',
  noTransactions: 'No payments yet.',
  giftCardBalance: 'Gift card balance',
  checkBalance: 'Check balance',
  balanceIs: 'Balance: {amount} ({status})',
  subscriptions: 'Subscriptions',
  paymentMethods: 'Saved payment methods',
  comingSoon: 'Coming soon.',
  returnToShop: 'Return to the shop',
  refunded: 'refunded {amount}',
};

type Texts = typeof en;

const ptBR: Texts = {
  checkoutTitle: 'Finalizar compra',
  orderSummary: 'Resumo do pedido',
  item: 'Item',
  quantity: 'Qtd.',
  amount: 'Valor',
  subtotal: 'Subtotal',
  discount: 'Desconto',
  giftCard: 'Cartão-presente',
  total: 'Total a pagar',
  couponLabel: 'Código do cupom',
  applyCoupon: 'Aplicar cupom',
  giftCardLabel: 'Código do cartão-presente',
  applyGiftCard: 'Aplicar cartão-presente',
  couponApplied: 'Cupom aplicado',
  giftCardApplied: 'Cartão-presente final {last4} aplicado',
  payWith: 'Pagar com',
  chooseProvider: 'Forma de pagamento',
  continueToPay: 'Continuar para o pagamento',
  cancelAndReturn: 'Cancelar e voltar à loja',
  working: 'Aguarde…',
  declined: 'Seu pagamento foi recusado ({code}). Nenhum valor foi cobrado. Tente novamente ou escolha outra forma.',
  returned: 'O pagamento não foi concluído. Você pode tentar novamente.',
  complete: 'Este pedido está pago. Obrigado!',
  expired: 'Esta compra expirou. Volte à loja para recomeçar.',
  canceled: 'Esta compra foi cancelada.',
  backToShop: 'Voltar à loja',
  notFound: 'Esta compra não existe.',
  paidByGiftCard: 'Pago integralmente com o seu cartão-presente.',
  error: 'Algo deu errado: {message}',
  consoleTitle: 'Console Paybridge',
  signIn: 'Entrar',
  adminKey: 'Chave de API de administrador',
  signInFailed: 'Essa chave não é uma chave de administrador ativa.',
  signOut: 'Sair',
  portalTitle: 'Sua conta',
  transactions: 'Seus pagamentos',
  receipt: 'Recibo',
  noTransactions: 'Nenhum pagamento ainda.',
  giftCardBalance: 'Saldo do cartão-presente',
  checkBalance: 'Consultar saldo',
  balanceIs: 'Saldo: {amount} ({status})',
  subscriptions: 'Assinaturas',
  paymentMethods: 'Formas de pagamento salvas',
  comingSoon: 'Em breve.',
  returnToShop: 'Voltar à loja',
  refunded: '{amount} reembolsado',
};

const es: Texts = {
  checkoutTitle: 'Pago',
  orderSummary: 'Resumen del pedido',
  item: 'Artículo',
  quantity: 'Cant.',
  amount: 'Importe',
  subtotal: 'Subtotal',
  discount: 'Descuento',
  giftCard: 'Tarjeta regalo',
  total: 'Total a pagar',
  couponLabel: 'Código de cupón',
  applyCoupon: 'Aplicar cupón',
  giftCardLabel: 'Código de tarjeta regalo',
  applyGiftCard: 'Aplicar tarjeta regalo',
  couponApplied: 'Cupón aplicado',
  giftCardApplied: 'Tarjeta regalo terminada en {last4} aplicada',
  payWith: 'Pagar con',
  chooseProvider: 'Método de pago',
  continueToPay: 'Continuar al pago',
  cancelAndReturn: 'Cancelar y volver a la tienda',
  working: 'Espere…',
  declined: 'Su pago fue rechazado ({code}). No se cobró nada. Puede intentarlo de nuevo o elegir otro método.',
  returned: 'El pago no se completó. Puede intentarlo de nuevo.',
  complete: 'Este pedido está pagado. ¡Gracias!',
  expired: 'Este pago ha caducado. Vuelva a la tienda para empezar de nuevo.',
  canceled: 'Este pago fue cancelado.',
  backToShop: 'Volver a la tienda',
  notFound: 'Este pago no existe.',
  paidByGiftCard: 'Pagado por completo con su tarjeta regalo.',
  error: 'Algo salió mal: {message}',
  consoleTitle: 'Consola de Paybridge',
  signIn: 'Iniciar sesión',
  adminKey: 'Clave de API de administrador',
  signInFailed: 'Esa clave no es una clave de administrador activa.',
  signOut: 'Cerrar sesión',
  portalTitle: 'Su cuenta',
  transactions: 'Sus pagos',
  receipt: 'Recibo',
  noTransactions: 'Aún no hay pagos.',
  giftCardBalance: 'Saldo de la tarjeta regalo',
  checkBalance: 'Consultar saldo',
  balanceIs: 'Saldo: {amount} ({status})',
  subscriptions: 'Suscripciones',
  paymentMethods: 'Métodos de pago guardados',
  comingSoon: 'Próximamente.',
  returnToShop: 'Volver a la tienda',
  refunded: '{amount} reembolsado',
};

const TEXTS: Record<Locale, Texts> = { en, 'pt-BR': ptBR, es };

export type TextKey = keyof Texts;

/** The page's language: the <html lang> the server chose (from ?locale= or Accept-Language). */
export function pageLocale(): Locale {
  const lang = document.documentElement.lang;
  return lang === 'pt-BR' || lang === 'es' ? lang : 'en';
}

export function t(locale: Locale, key: TextKey, params: Record<string, string> = {}): string {
  return TEXTS[locale][key].replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? '');
}

/** Provider names as customers know them. */
export const PROVIDER_NAMES: Record<string, string> = {
  simulator: 'Simulator (test card)',
  stripe: 'Card (Stripe)',
  mercadopago: 'Mercado Pago',
  segpay: 'Segpay',
};

/** Payment and gift-card states as the customer reads them (an unknown state shows as the API names it). */
const STATUSES: Record<Locale, Record<string, string>> = {
  en: {
    pending: 'pending',
    processing: 'processing',
    requires_action: 'awaiting authentication',
    succeeded: 'paid',
    failed: 'failed',
    canceled: 'canceled',
    partially_refunded: 'partially refunded',
    refunded: 'refunded',
    active: 'active',
    expired: 'expired',
  },
  'pt-BR': {
    pending: 'pendente',
    processing: 'em processamento',
    requires_action: 'aguardando autenticação',
    succeeded: 'pago',
    failed: 'recusado',
    canceled: 'cancelado',
    partially_refunded: 'parcialmente reembolsado',
    refunded: 'reembolsado',
    active: 'ativo',
    expired: 'expirado',
  },
  es: {
    pending: 'pendiente',
    processing: 'en proceso',
    requires_action: 'pendiente de autenticación',
    succeeded: 'pagado',
    failed: 'rechazado',
    canceled: 'cancelado',
    partially_refunded: 'reembolsado en parte',
    refunded: 'reembolsado',
    active: 'activa',
    expired: 'caducada',
  },
};

export function statusText(locale: Locale, status: string): string {
  return STATUSES[locale][status] ?? status;
}
