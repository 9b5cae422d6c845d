import { useEffect, useState } from 'preact/hooks';
import { api, type Page } from './api';
import { cell, message, Status, Table, type Row } from './panels';

interface Payment extends Row {
  id: string;
  status: string;
  amount: number;
  amountRefunded: number;
  currency: string;
  customer: { email: string };
}

/** Search payments by customer email, open one: its timeline and a (partial) refund. */
export function TransactionsPanel() {
  const [email, setEmail] = useState('');
  const [rows, setRows] = useState<Payment[]>([]);
  const [open, setOpen] = useState<Payment | null>(null);
  const [status, setStatus] = useState({ text: '', error: false });

  async function search(e: Event) {
    e.preventDefault();
    try {
      const page = await api<Page<Payment>>('GET', `/admin/transactions?customerEmail=${encodeURIComponent(email.trim())}`);
      setRows(page.data);
      setStatus({ text: `${page.data.length} payment(s) found.`, error: false });
    } catch (err) {
      setStatus({ text: message(err), error: true });
    }
  }

  return (
    <section aria-labelledby="tx-h">
      <h2 id="tx-h">Transactions</h2>
      <form class="inline" onSubmit={search} role="search">
        <div class="field">
          <label for="tx-email">Customer email</label>
          <input id="tx-email" type="email" value={email} required onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
        </div>
        <button type="submit">Search</button>
      </form>
      <Status text={status.text} error={status.error} />
      <Table
        caption="Payments"
        rows={rows}
        columns={[
          { key: 'id', label: 'Payment' },
          { key: 'status', label: 'Status' },
          { key: 'amount', label: 'Amount (minor units)', render: (r) => `${cell(r.amount)} ${cell(r.currency)}` },
          { key: 'amountRefunded', label: 'Refunded' },
          { key: 'createdAt', label: 'Created' },
          {
            key: 'open',
            label: 'Details',
            render: (r) => (
              <button type="button" onClick={() => setOpen(r as Payment)}>
                Open {cell(r.id)}
              </button>
            ),
          },
        ]}
      />
      {open && <PaymentDetail key={open.id} payment={open} />}
    </section>
  );
}

function PaymentDetail(props: { payment: Payment }) {
  const [payment, setPayment] = useState(props.payment);
  const [timeline, setTimeline] = useState<Row[] | null>(null);
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [status, setStatus] = useState({ text: '', error: false });
  const id = encodeURIComponent(payment.id);

  async function load() {
    setPayment(await api<Payment>('GET', `/transactions/${id}`));
    setTimeline((await api<Page<Row>>('GET', `/transactions/${id}/timeline`)).data);
  }
  useEffect(() => {
    load().catch((err: unknown) => setStatus({ text: message(err), error: true }));
  }, []);

  async function refund(e: Event) {
    e.preventDefault();
    try {
      const body: Record<string, unknown> = reason ? { reason } : {};
      if (amount.trim()) body.amount = Number(amount);
      await api('POST', `/transactions/${id}/refund`, body);
      setStatus({ text: 'Refund requested.', error: false });
      setAmount('');
      await load();
    } catch (err) {
      setStatus({ text: message(err), error: true });
    }
  }

  const entries = timeline ?? [];
  return (
    <section aria-labelledby="detail-h" class="card">
      <h2 id="detail-h">Payment {payment.id}</h2>
      <p>
        {payment.status} · {payment.amount} {payment.currency} · refunded {payment.amountRefunded} · {payment.customer?.email}
      </p>
      <form class="inline" onSubmit={refund}>
        <div class="field">
          <label for="refund-amount">Refund amount (minor units; empty: the rest)</label>
          <input
            id="refund-amount"
            type="number"
            min="1"
            step="1"
            value={amount}
            onInput={(e) => setAmount((e.target as HTMLInputElement).value)}
          />
        </div>
        <div class="field">
          <label for="refund-reason">Reason</label>
          <input id="refund-reason" type="text" value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
        </div>
        <button type="submit">Refund</button>
      </form>
      <Status text={status.text} error={status.error} />
      <h3>Timeline</h3>
      <ol class="timeline" aria-label="Timeline">
        {entries.map((entry, i) => (
          <li key={i}>
            <strong>{cell(entry.kind)}</strong> {entry.toStatus ? `${cell(entry.fromStatus)} → ${cell(entry.toStatus)} ` : ''}
            <span class="muted">{cell(entry.createdAt)}</span> {cell(entry.detail)}
          </li>
        ))}
      </ol>
    </section>
  );
}
