-- Average selling price by seller: per seller, the average of the winning prices of their last
-- 10 closed auctions ("last" by expiry, ties to the higher auction id).
--
-- Flink's own q6 file computes this with AVG(…) OVER (PARTITION BY seller ORDER BY dateTime
-- ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) over the winners, which Flink cannot run (an OVER
-- aggregation cannot read the winners' changelog). This file says the same with a top 10 per
-- seller, which reads a changelog, and an average over it.
CREATE TABLE nexmark_q6 (
  seller BIGINT,
  avg_price BIGINT
) WITH (
  'connector' = 'blackhole'
);

INSERT INTO nexmark_q6
SELECT seller, AVG(final) AS avg_price
FROM (
    SELECT seller, final,
      ROW_NUMBER() OVER (PARTITION BY seller ORDER BY expires DESC, id DESC) AS rownum
    FROM (
        SELECT A.id, A.seller, A.expires, MAX(B.price) AS final
        FROM auction A, bid B
        WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
        GROUP BY A.id, A.seller, A.expires
    )
)
WHERE rownum <= 10
GROUP BY seller;
