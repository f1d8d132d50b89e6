CREATE TABLE t (a INT, s STRING, d DECIMAL(10, 2), ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
WITH ('connector' = 'filesystem', 'path' = 'x', 'format' = 'csv');
CREATE TABLE o (a INT, s STRING) WITH ('connector' = 'print');
INSERT INTO o SELECT a + 1, UPPER(s) FROM t WHERE d > 1.5 AND s LIKE 'a%' OR a IN (1, 2);
