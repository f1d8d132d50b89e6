CREATE TABLE events (u STRING, amt INT, ts TIMESTAMP(3), j STRING, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'filesystem', 'path' = '/tmp/e', 'format' = 'json');
CREATE TABLE side (k BIGINT, v STRING) WITH ('connector.type' = 'filesystem', 'connector.path' = 'file:///tmp/s', 'format.type' = 'csv');
CREATE TABLE g (id BIGINT, s STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '10', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '10');
CREATE TABLE out (u STRING, s INT, n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT u, SUM(amt) OVER w, COUNT(*) OVER w FROM events WINDOW w AS (PARTITION BY u ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW);
INSERT INTO out SELECT a.u, b.amt, COUNT(*) OVER (ORDER BY a.ts RANGE BETWEEN INTERVAL '1' MINUTE PRECEDING AND CURRENT ROW) FROM events a JOIN events b ON a.u = b.u AND b.ts BETWEEN a.ts - INTERVAL '5' SECOND AND a.ts;
INSERT INTO out SELECT e.u, CAST(JSON_VALUE(e.j, '$.a[0].b') AS INT), 1 FROM (SELECT *, PROCTIME() AS pt FROM events) e LEFT JOIN side FOR SYSTEM_TIME AS OF e.pt AS s ON MOD(e.amt, 10) = s.k;
INSERT INTO out SELECT s, 1, MIN(id) FROM g GROUP BY s;
