ALTER TABLE `tokens` ADD `expires_at` text;--> statement-breakpoint
ALTER TABLE `webhooks` ADD `secret` text DEFAULT '' NOT NULL;--> statement-breakpoint
-- Webhooks made before signing get a random secret: their deliveries are signed too, and a
-- receiver that wants to verify them recreates the webhook to learn a secret.
UPDATE `webhooks` SET `secret` = lower(hex(randomblob(32))) WHERE `secret` = '';
