CREATE TABLE `alerts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` integer NOT NULL,
	`project_id` integer NOT NULL,
	`rule` text NOT NULL,
	`section` text NOT NULL,
	`severity` text NOT NULL,
	`status` text NOT NULL,
	`acknowledged` integer DEFAULT false NOT NULL,
	`muted` integer DEFAULT false NOT NULL,
	`layer` text,
	`first_step` integer NOT NULL,
	`last_step` integer NOT NULL,
	`evidence` text NOT NULL,
	`advice` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`resolved_at` text,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `alerts_run_idx` ON `alerts` (`run_id`,`rule`,`layer`);--> statement-breakpoint
CREATE INDEX `alerts_project_idx` ON `alerts` (`project_id`,`id`);--> statement-breakpoint
CREATE TABLE `chunks` (
	`series_id` integer NOT NULL,
	`start_step` integer NOT NULL,
	`end_step` integer NOT NULL,
	`count` integer NOT NULL,
	`min` real,
	`max` real,
	`last` real,
	`last_kind` integer NOT NULL,
	`nan` integer NOT NULL,
	`pos_inf` integer NOT NULL,
	`neg_inf` integer NOT NULL,
	`steps` blob NOT NULL,
	`vals` blob NOT NULL,
	PRIMARY KEY(`series_id`, `start_step`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `eval_points` (
	`series_id` integer NOT NULL,
	`step` integer NOT NULL,
	`value` real,
	PRIMARY KEY(`series_id`, `step`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `histograms` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` integer NOT NULL,
	`step` integer NOT NULL,
	`layer` text NOT NULL,
	`of` text NOT NULL,
	`edges` text NOT NULL,
	`counts` text NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `histograms_key_idx` ON `histograms` (`run_id`,`layer`,`of`,`step`);--> statement-breakpoint
CREATE TABLE `projects` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`rule_settings` text DEFAULT '{}' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `projects_name_unique` ON `projects` (`name`);--> statement-breakpoint
CREATE TABLE `run_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` integer NOT NULL,
	`kind` text NOT NULL,
	`step` integer,
	`detail` text DEFAULT '{}' NOT NULL,
	`at` text NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`uid` text NOT NULL,
	`project_id` integer NOT NULL,
	`name` text NOT NULL,
	`tags` text DEFAULT '[]' NOT NULL,
	`config` text DEFAULT '{}' NOT NULL,
	`framework` text,
	`host` text,
	`world_size` integer,
	`model` text,
	`status` text DEFAULT 'live' NOT NULL,
	`last_seq` integer DEFAULT 0 NOT NULL,
	`last_step` integer,
	`created_at` text NOT NULL,
	`last_seen_at` text NOT NULL,
	`ended_at` text,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `runs_uid_unique` ON `runs` (`uid`);--> statement-breakpoint
CREATE INDEX `runs_project_idx` ON `runs` (`project_id`,`last_seen_at`);--> statement-breakpoint
CREATE TABLE `series` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` integer NOT NULL,
	`name` text NOT NULL,
	`slot` integer NOT NULL,
	`first_nonfinite_step` integer,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `series_run_name_idx` ON `series` (`run_id`,`name`);--> statement-breakpoint
CREATE TABLE `step_index` (
	`run_id` integer NOT NULL,
	`step` integer NOT NULL,
	`time` real,
	`epoch` real,
	`examples` integer,
	PRIMARY KEY(`run_id`, `step`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `step_index_time_idx` ON `step_index` (`run_id`,`time`);--> statement-breakpoint
CREATE TABLE `step_tail` (
	`run_id` integer NOT NULL,
	`step` integer NOT NULL,
	`vals` blob NOT NULL,
	PRIMARY KEY(`run_id`, `step`)
) WITHOUT ROWID;
