-- Chunk points move out of the summary table: large blobs there made every range scan walk
-- overflow pages. chunk_data keeps them clustered by series; rollups summarise chunks per
-- aligned window of steps. Existing data is carried over.
CREATE TABLE `chunk_data` (
	`series_id` integer NOT NULL,
	`start_step` integer NOT NULL,
	`steps` blob NOT NULL,
	`vals` blob NOT NULL,
	PRIMARY KEY(`series_id`, `start_step`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `chunk_data` (`series_id`, `start_step`, `steps`, `vals`) SELECT `series_id`, `start_step`, `steps`, `vals` FROM `chunks`;
--> statement-breakpoint
CREATE TABLE `rollups` (
	`series_id` integer NOT NULL,
	`level` integer NOT NULL,
	`window` integer NOT NULL,
	`from_step` integer NOT NULL,
	`to_step` integer NOT NULL,
	`count` integer NOT NULL,
	`min` real,
	`max` real,
	`last` real,
	`last_kind` integer NOT NULL,
	`nan` integer NOT NULL,
	`pos_inf` integer NOT NULL,
	`neg_inf` integer NOT NULL,
	PRIMARY KEY(`series_id`, `level`, `window`)
) WITHOUT ROWID;
--> statement-breakpoint
ALTER TABLE `chunks` DROP COLUMN `steps`;--> statement-breakpoint
ALTER TABLE `chunks` DROP COLUMN `vals`;--> statement-breakpoint
INSERT INTO `rollups` (`series_id`, `level`, `window`, `from_step`, `to_step`, `count`, `min`, `max`, `last`, `last_kind`, `nan`, `pos_inf`, `neg_inf`)
	SELECT c.`series_id`, 1, c.`start_step` / 4096, min(c.`start_step`), max(c.`end_step`), sum(c.`count`), min(c.`min`), max(c.`max`),
		(SELECT l.`last` FROM `chunks` l WHERE l.`series_id` = c.`series_id` AND l.`start_step` / 4096 = c.`start_step` / 4096 ORDER BY l.`start_step` DESC LIMIT 1),
		(SELECT l.`last_kind` FROM `chunks` l WHERE l.`series_id` = c.`series_id` AND l.`start_step` / 4096 = c.`start_step` / 4096 ORDER BY l.`start_step` DESC LIMIT 1),
		sum(c.`nan`), sum(c.`pos_inf`), sum(c.`neg_inf`)
	FROM `chunks` c GROUP BY c.`series_id`, c.`start_step` / 4096;--> statement-breakpoint
INSERT INTO `rollups` (`series_id`, `level`, `window`, `from_step`, `to_step`, `count`, `min`, `max`, `last`, `last_kind`, `nan`, `pos_inf`, `neg_inf`)
	SELECT c.`series_id`, 2, c.`start_step` / 131072, min(c.`start_step`), max(c.`end_step`), sum(c.`count`), min(c.`min`), max(c.`max`),
		(SELECT l.`last` FROM `chunks` l WHERE l.`series_id` = c.`series_id` AND l.`start_step` / 131072 = c.`start_step` / 131072 ORDER BY l.`start_step` DESC LIMIT 1),
		(SELECT l.`last_kind` FROM `chunks` l WHERE l.`series_id` = c.`series_id` AND l.`start_step` / 131072 = c.`start_step` / 131072 ORDER BY l.`start_step` DESC LIMIT 1),
		sum(c.`nan`), sum(c.`pos_inf`), sum(c.`neg_inf`)
	FROM `chunks` c GROUP BY c.`series_id`, c.`start_step` / 131072;
