-- Rollup level 3: windows of 1,024 steps (8 chunks), between the chunks and level 1's 4,096, so a
-- chart of a 1M-step series (buckets of ~1,700 steps) reads ~1,000 rows instead of ~8,000 chunks.
-- New chunks get it as they are sealed; this fills it in for the chunks already stored.
INSERT INTO "rollups" ("series_id", "level", "window", "from_step", "to_step", "count", "min", "max", "last", "last_kind", "nan", "pos_inf", "neg_inf")
SELECT series_id, 3, start_step / 1024, min(start_step), max(end_step), sum(count)::int8, min(min), max(max),
  (array_agg(last ORDER BY start_step DESC))[1], (array_agg(last_kind ORDER BY start_step DESC))[1],
  sum(nan)::int, sum(pos_inf)::int, sum(neg_inf)::int
FROM "chunks" GROUP BY series_id, start_step / 1024;
