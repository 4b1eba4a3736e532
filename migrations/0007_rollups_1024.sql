-- Rollup level 3: windows of 1,024 steps (8 chunks), between the chunks and level 1's 4,096, so a
-- chart of a 1M-step series (buckets of ~1,700 steps) reads ~1,000 rows instead of ~8,000 chunks.
-- New chunks get it as they are sealed; this fills it in for the chunks already stored.
INSERT INTO `rollups` (`series_id`, `level`, `window`, `from_step`, `to_step`, `count`, `min`, `max`, `last`, `last_kind`, `nan`, `pos_inf`, `neg_inf`)
SELECT g.series_id, 3, g.win, g.lo, g.hi, g.n, g.mn, g.mx, l.last, l.last_kind, g.nan, g.pos_inf, g.neg_inf
FROM (
  SELECT series_id, start_step / 1024 AS win, min(start_step) AS lo, max(start_step) AS last_start, max(end_step) AS hi,
    sum(count) AS n, min(min) AS mn, max(max) AS mx, sum(nan) AS nan, sum(pos_inf) AS pos_inf, sum(neg_inf) AS neg_inf
  FROM `chunks` GROUP BY series_id, start_step / 1024
) g
JOIN `chunks` l ON l.series_id = g.series_id AND l.start_step = g.last_start;
