-- Compatibility workload for sqlite3 under LD_PRELOAD: generated rows, indexes, joins, updates, deletes,
-- aggregates and a VACUUM; every query is ordered so the output depends only on the input.
PRAGMA cache_size = -32768;
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v TEXT, n INT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)
INSERT INTO t(k, v, n) SELECT 'k' || ((x * 7919) % 50000), printf('%.*c', x % 97, 'v'), x % 1000 FROM c;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_nk ON t(n, k);
SELECT count(*), count(DISTINCT k), sum(length(v)), sum(n) FROM t;
SELECT n, count(*), sum(length(v)) FROM t GROUP BY n ORDER BY 2 DESC, 1 LIMIT 5;
SELECT group_concat(k, ',') FROM (SELECT k FROM t WHERE n = 7 ORDER BY k, id LIMIT 50);
UPDATE t SET v = v || 'tail' WHERE n % 3 = 0;
DELETE FROM t WHERE n % 5 = 0;
CREATE TABLE u AS SELECT k, count(*) AS c, max(length(v)) AS m FROM t GROUP BY k;
SELECT count(*), sum(c), sum(m) FROM u;
SELECT a.n, count(*) FROM t a JOIN u b ON a.k = b.k WHERE a.n < 20 GROUP BY a.n ORDER BY a.n LIMIT 5;
SELECT k, c FROM u ORDER BY c DESC, k LIMIT 5;
WITH RECURSIVE s(x, acc) AS (SELECT 1, '' UNION ALL SELECT x + 1, acc || char(65 + x % 26) FROM s WHERE x < 3000)
SELECT length(acc), substr(acc, 1000, 20) FROM s WHERE x = 3000;
VACUUM;
SELECT count(*), sum(length(v)) FROM t;
