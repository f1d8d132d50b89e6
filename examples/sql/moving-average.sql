-- Per auction, each bid with the average of its last five bids (an OVER aggregation: rows are
-- taken in event-time order once the watermark passes them), and the bids that came within
-- five seconds after a bid of the same bidder on the same auction (an interval join: each bid
-- is kept only as long as a later one can still match it).
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

CREATE TABLE moving_average (auction BIGINT, price BIGINT, avg_last_5 BIGINT, bids_so_far BIGINT) WITH ('connector' = 'print');
CREATE TABLE quick_rebids (auction BIGINT, bidder BIGINT, first_price BIGINT, next_price BIGINT) WITH ('connector' = 'print');

INSERT INTO moving_average
SELECT auction, price,
       AVG(price) OVER (PARTITION BY auction ORDER BY dateTime ROWS BETWEEN 4 PRECEDING AND CURRENT ROW),
       COUNT(*) OVER (PARTITION BY auction ORDER BY dateTime ROWS BETWEEN 4 PRECEDING AND CURRENT ROW)
FROM bids;

INSERT INTO quick_rebids
SELECT a.auction, a.bidder, a.price, b.price
FROM bids a JOIN bids b ON a.auction = b.auction AND a.bidder = b.bidder
WHERE b.dateTime > a.dateTime AND b.dateTime <= a.dateTime + INTERVAL '5' SECOND;
