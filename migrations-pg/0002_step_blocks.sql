-- As SQLite's 0008: the step index moves from a row per step into blocks of the steps sealed
-- together, the rows stored before carried over as text blocks of 128 steps (float8::text with
-- extra_float_digits = 3 is exact on every version: 17 digits before PostgreSQL 12, the shortest exact form since).
CREATE TABLE "step_blocks" (
	"run_id" integer NOT NULL,
	"start_step" bigint NOT NULL,
	"end_step" bigint NOT NULL,
	"count" integer NOT NULL,
	"time_lo" double precision,
	"time_hi" double precision,
	"epoch_lo" double precision,
	"epoch_hi" double precision,
	"data" "bytea" NOT NULL,
	CONSTRAINT "step_blocks_run_id_start_step_pk" PRIMARY KEY("run_id","start_step")
);
--> statement-breakpoint
SET extra_float_digits = 3;--> statement-breakpoint
INSERT INTO "step_blocks" ("run_id", "start_step", "end_step", "count", "time_lo", "time_hi", "epoch_lo", "epoch_hi", "data")
SELECT "run_id", min("step"), max("step"), count(*)::int, min("time"), max("time"), min("epoch"), max("epoch"),
	convert_to(string_agg("step"::text || ',' || coalesce("time"::text, '') || ',' || coalesce("epoch"::text, '')
		|| ',' || coalesce("examples"::text, ''), ';' ORDER BY "step"), 'UTF8')
FROM (SELECT *, (row_number() OVER (PARTITION BY "run_id" ORDER BY "step") - 1) / 128 AS "block" FROM "step_index") s
GROUP BY "run_id", "block";
--> statement-breakpoint
DROP TABLE "step_index" CASCADE;--> statement-breakpoint
ALTER TABLE "step_tail" ADD COLUMN "time" double precision;--> statement-breakpoint
ALTER TABLE "step_tail" ADD COLUMN "epoch" double precision;--> statement-breakpoint
ALTER TABLE "step_tail" ADD COLUMN "examples" bigint;--> statement-breakpoint
ALTER TABLE "step_tail" ADD COLUMN "indexed" integer DEFAULT 1 NOT NULL;
