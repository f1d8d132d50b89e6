-- The three auctions with the most bids in each 10-second window (a window aggregation, then a
-- top-N over its rows). The result updates as rows enter the top 3: print shows +I, -U, +U, -D.
CREATE TABLE bids (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    dateTime TIMESTAMP(3),
    WATERMARK FOR dateTime AS dateTime - INTERVAL '2' SECOND
) WITH (
    'connector' = 'filesystem',
    'path' = 'examples/sql/data/bids.csv',
    'format' = 'csv'
);

CREATE TABLE top_auctions (window_end TIMESTAMP(3), auction BIGINT, bids BIGINT, rn BIGINT) WITH ('connector' = 'print');

INSERT INTO top_auctions
SELECT window_end, auction, bids, rn FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY window_end ORDER BY bids DESC) AS rn
    FROM (
        SELECT window_end, auction, COUNT(*) AS bids
        FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
        GROUP BY window_start, window_end, auction
    )
)
WHERE rn <= 3;
