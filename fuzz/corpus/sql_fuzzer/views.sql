CREATE TABLE t (r ROW<x BIGINT, y STRING>, k AS CASE WHEN r.x > 0 THEN r.y ELSE 'none' END) WITH ('connector' = 'filesystem', 'path' = 'x', 'format' = 'json');
CREATE VIEW v AS SELECT r.x, k FROM t WHERE r.x BETWEEN 1 AND 10;
CREATE TABLE o (x BIGINT, k STRING, z STRING) WITH ('connector' = 'blackhole');
SET 'parallelism.default' = '2';
/* comment */ INSERT INTO o SELECT x, k, SPLIT_INDEX(k, '/', 1) FROM v; -- end
