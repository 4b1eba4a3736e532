-- The step index moves from a row per step (43 bytes a step with its time index) into blocks of
-- the steps sealed together. Steps not sealed yet are indexed by their tail rows. The rows stored
-- before are carried over as text blocks of 128 steps, which the codec reads as well; the tail
-- rows already there are indexed by those blocks (indexed = 1).
CREATE TABLE `step_blocks` (
	`run_id` integer NOT NULL,
	`start_step` integer NOT NULL,
	`end_step` integer NOT NULL,
	`count` integer NOT NULL,
	`time_lo` real,
	`time_hi` real,
	`epoch_lo` real,
	`epoch_hi` real,
	`data` blob NOT NULL,
	PRIMARY KEY(`run_id`, `start_step`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `step_blocks` (`run_id`, `start_step`, `end_step`, `count`, `time_lo`, `time_hi`, `epoch_lo`, `epoch_hi`, `data`)
SELECT `run_id`, min(`step`), max(`step`), count(*), min(`time`), max(`time`), min(`epoch`), max(`epoch`),
	CAST(group_concat(`step` || ',' || CASE WHEN `time` IS NULL THEN '' ELSE printf('%!.17g', `time`) END
		|| ',' || CASE WHEN `epoch` IS NULL THEN '' ELSE printf('%!.17g', `epoch`) END
		|| ',' || ifnull(`examples`, ''), ';' ORDER BY `step`) AS BLOB)
FROM (SELECT *, (row_number() OVER (PARTITION BY `run_id` ORDER BY `step`) - 1) / 128 AS `block` FROM `step_index`)
GROUP BY `run_id`, `block`;
--> statement-breakpoint
DROP TABLE `step_index`;--> statement-breakpoint
ALTER TABLE `step_tail` ADD `time` real;--> statement-breakpoint
ALTER TABLE `step_tail` ADD `epoch` real;--> statement-breakpoint
ALTER TABLE `step_tail` ADD `examples` integer;--> statement-breakpoint
ALTER TABLE `step_tail` ADD `indexed` integer DEFAULT 1 NOT NULL;
