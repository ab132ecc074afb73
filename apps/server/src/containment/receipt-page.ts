import { toIso } from '../core/time.ts';
import type { RunRecord } from './domain/model.ts';
import {
  formatMoney,
  giftCardText,
  paymentText,
  shipmentText,
  type Receipt,
  type ReceiptLocale,
} from './domain/receipt.ts';

const escape = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

const words = {
  en: {
    title: 'Cancellation receipt',
    intro:
      'What the payment provider, the carrier and the store confirmed for each order of this case. Nothing here is what we asked for: only what they answered.',
    case: 'Case',
    account: 'Account',
    decided: 'Fraud decision',
    playbook: 'Playbook',
    status: 'Run',
    order: 'Order',
    amount: 'Amount',
    payment: 'Payment',
    shipment: 'Shipment',
    giftCards: 'Gift cards',
    hidden: 'hidden by the attacker (archived)',
    notified: 'Owner told',
    notNotified: 'The owner has not been told yet: the message waits for every confirmation.',
    complete: 'Every outcome is confirmed by the provider.',
    incomplete: 'Some outcomes are not confirmed yet; this page changes as they are.',
    none: '—',
  },
  ja: {
    title: 'キャンセル証明',
    intro:
      'このケースの各注文について、決済会社・配送会社・ストアが確認した結果です。依頼した内容ではなく、相手側の回答のみを記載しています。',
    case: 'ケース',
    account: 'アカウント',
    decided: '不正判定',
    playbook: 'プレイブック',
    status: '実行状況',
    order: '注文',
    amount: '金額',
    payment: '決済',
    shipment: '配送',
    giftCards: 'ギフトカード',
    hidden: '攻撃者により非表示（アーカイブ）',
    notified: '本人への通知',
    notNotified: 'まだ本人に通知していません。すべての確認がそろってから送信します。',
    complete: 'すべての結果が事業者により確認済みです。',
    incomplete: '一部の結果は未確認です。確認され次第このページに反映されます。',
    none: '—',
  },
} as const;

/** The receipt as a page: self-contained HTML (no external assets), English or Japanese. */
export function renderReceiptPage(run: RunRecord, receipt: Receipt, locale: ReceiptLocale): string {
  const w = words[locale];
  const rows = receipt.orders
    .map((o) => {
      const amount = o.amount === undefined ? w.none : formatMoney(o.amount.value, o.amount.currency, locale);
      return `<tr><th scope="row">${escape(o.orderId)}${o.archived ? `<br><small>${escape(w.hidden)}</small>` : ''}</th><td>${escape(amount)}</td><td>${escape(paymentText(o, locale))}</td><td>${escape(shipmentText(o, locale))}</td><td>${escape(giftCardText(o, locale) ?? w.none)}</td></tr>`;
    })
    .join('\n');
  const notified =
    receipt.notification === undefined
      ? `<p>${escape(w.notNotified)}</p>`
      : `<p>${escape(w.notified)}: ${escape(receipt.notification.channel)} · ${escape(toIso(receipt.notification.sentAtMs))} · <code>${escape(receipt.notification.messageId)}</code></p>`;
  return `<!doctype html>
<html lang="${locale}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(w.title)} ${escape(receipt.caseId)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;color:#111}table{border-collapse:collapse;width:100%}th,td{border:1px solid #bbb;padding:.4rem .6rem;text-align:left;vertical-align:top}thead th{background:#eee}small{color:#a00}.ok{color:#060}.warn{color:#a60}</style>
</head>
<body>
<main>
<h1>${escape(w.title)}</h1>
<p>${escape(w.intro)}</p>
<dl>
<dt>${escape(w.case)}</dt><dd><code>${escape(receipt.caseId)}</code></dd>
<dt>${escape(w.account)}</dt><dd><code>${escape(receipt.accountId)}</code></dd>
<dt>${escape(w.decided)}</dt><dd>${escape(toIso(receipt.decidedAtMs))}</dd>
<dt>${escape(w.playbook)}</dt><dd>${escape(run.playbook)}</dd>
<dt>${escape(w.status)}</dt><dd>${escape(run.status)}</dd>
</dl>
<p class="${receipt.complete ? 'ok' : 'warn'}">${escape(receipt.complete ? w.complete : w.incomplete)}</p>
<table>
<thead><tr><th scope="col">${escape(w.order)}</th><th scope="col">${escape(w.amount)}</th><th scope="col">${escape(w.payment)}</th><th scope="col">${escape(w.shipment)}</th><th scope="col">${escape(w.giftCards)}</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${notified}
</main>
</body>
</html>
`;
}
