ALTER TABLE `alerts` ADD `layers` text;--> statement-breakpoint
ALTER TABLE `alerts` ADD `resolved_reason` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `diagnoses` text DEFAULT '[]' NOT NULL;