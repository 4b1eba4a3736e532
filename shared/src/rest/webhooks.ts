import Type, { type Static } from 'typebox';

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
const DeliveryStatus = Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]);

export const Webhook = Type.Object({
  id: Type.Integer(),
  project: Type.String(),
  url: Type.String(),
  alerts: Type.Boolean({ description: 'Symptom alerts are sent besides diagnosis changes (which always are)' }),
  createdAt: Type.String(),
});
export type Webhook = Static<typeof Webhook>;

/** The answer to a creation: the only time the signing secret is shown. */
export const WebhookCreated = Type.Intersect([
  Webhook,
  Type.Object({
    secret: Type.String({
      description: 'HMAC-SHA256 key: each delivery carries X-Gradwatch-Signature: sha256=<hex HMAC of the raw body>. Store it now, it is not shown again',
    }),
  }),
]);
export type WebhookCreated = Static<typeof WebhookCreated>;

export const WebhookList = Type.Object({ webhooks: Type.Array(Webhook) });
export type WebhookList = Static<typeof WebhookList>;

export const WebhookCreate = Type.Object({
  url: Type.String({ maxLength: 2000, pattern: '^https?://', description: 'http(s) URL that receives diagnosis and alert events as JSON (Slack-compatible `text`)' }),
  alerts: Type.Optional(Type.Boolean({ default: true, description: 'Also send every symptom alert (opened, severity changed, resolved); false: diagnosis changes only' })),
});
export type WebhookCreate = Static<typeof WebhookCreate>;

export const Delivery = Type.Object({
  id: Type.Integer(),
  event: Type.String({ description: 'diagnosis.changed, alert.opened or alert.resolved' }),
  alertId: Type.Union([Type.Integer(), Type.Null()], { description: 'The alert of an alert event; null for a diagnosis event' }),
  status: DeliveryStatus,
  attempts: Type.Integer(),
  lastStatus: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  nextAttemptAt: Type.String(),
  createdAt: Type.String(),
  deliveredAt: Type.Union([Type.String(), Type.Null()]),
});
export type Delivery = Static<typeof Delivery>;

export const DeliveryQuery = Type.Object({
  status: Type.Optional(DeliveryStatus),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});
export type DeliveryQuery = Static<typeof DeliveryQuery>;

export const DeliveryList = Type.Object({ deliveries: Type.Array(Delivery) });
export type DeliveryList = Static<typeof DeliveryList>;
