import assert from 'node:assert/strict';
import { test } from 'node:test';
import { locales, renderNotification, type Notification } from '../../src/connectors/domain/notify.ts';

const notifications: Notification[] = [
  {
    kind: 'new_device_sign_in',
    storeName: 'Example Store',
    device: 'Chrome on Windows',
    place: 'Hanoi, VN',
    atIso: '2026-11-25T08:00:00Z',
  },
  { kind: 'account_secured', storeName: 'Example Store' },
  {
    kind: 'orders_contained',
    storeName: 'Example Store',
    orders: [
      { orderId: 'o-1', outcomes: ['cancelled_nothing_charged', 'gift_cards_deactivated'] },
      { orderId: 'o-2', outcomes: ['cancelled_refunded', 'shipment_not_stopped'] },
    ],
  },
  { kind: 'one_time_code', storeName: 'Example Store', code: '482913', validMinutes: 10 },
];

test('every notification exists in English and Japanese, and asks for nothing', () => {
  for (const notification of notifications) {
    const [en, ja] = locales.map((locale) => renderNotification(notification, locale));
    assert.ok(en && ja);
    for (const rendered of [en, ja]) {
      for (const part of [rendered.subject, rendered.text, rendered.sms]) {
        assert.ok(part.length > 0);
        assert.ok(!/undefined|\$\{|NaN/.test(part), `no unfilled placeholder: ${part}`);
        // Phishing-shaped messages got the real ones ignored: no links, ever.
        assert.ok(!/https?:|www\./i.test(part), `no link: ${part}`);
      }
    }
    assert.ok(!/[\u3040-\u30ff\u4e00-\u9fff]/.test(en.text), 'the English text is English');
    assert.ok(/[\u3040-\u30ff\u4e00-\u9fff]/.test(ja.text), 'the Japanese text is Japanese');
    assert.ok(en.text.includes('Example Store') && ja.text.includes('Example Store'));
  }
});

test('the containment message states each confirmed outcome per order, in both languages', () => {
  const contained = notifications[2] as Notification;
  const en = renderNotification(contained, 'en').text;
  const ja = renderNotification(contained, 'ja').text;
  assert.match(en, /o-1: cancelled; nothing was charged to your card; the gift-card codes were deactivated/);
  assert.match(en, /o-2: .*may reach you/);
  assert.match(ja, /o-1: キャンセル済み。カードへの請求はありません/);
  assert.match(ja, /o-2: .*お手元に届く可能性があります/);
});

test('a one-time code message carries the code and says never to share it', () => {
  const code = notifications[3] as Notification;
  for (const locale of locales) {
    const rendered = renderNotification(code, locale);
    assert.ok(rendered.sms.includes('482913') && rendered.text.includes('482913'));
  }
  assert.match(renderNotification(code, 'en').sms, /Never share it/);
  assert.match(renderNotification(code, 'ja').sms, /誰にも教えないでください/);
});
