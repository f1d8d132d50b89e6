CREATE TABLE a (id BIGINT, x STRING) WITH ('connector' = 'blackhole');
CREATE TABLE b (id BIGINT, y STRING) WITH ('connector' = 'blackhole');
CREATE TABLE o (x STRING, y STRING, rn BIGINT) WITH ('connector' = 'print');
INSERT INTO o SELECT a.x, b.y, 1 FROM a LEFT JOIN b ON a.id = b.id;
INSERT INTO o SELECT x, y, rn FROM (SELECT a.*, b.y, ROW_NUMBER() OVER (PARTITION BY a.id ORDER BY b.y DESC) AS rn FROM a, b WHERE a.id = b.id) WHERE rn <= 3;
INSERT INTO o SELECT DISTINCT x, DATE_FORMAT(TO_TIMESTAMP(y), 'yyyy-MM'), EXTRACT(YEAR FROM TO_TIMESTAMP(y)) FROM a JOIN b ON a.id = b.id;
