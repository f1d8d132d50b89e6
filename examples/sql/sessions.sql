-- Bidder sessions (bids less than 5 seconds apart) and the auctions they touched, written as
-- JSON lines to exactly-once part files under /tmp/reka-sessions.
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

CREATE TABLE sessions (
    bidder BIGINT,
    session_start TIMESTAMP(3),
    session_end TIMESTAMP(3),
    bids BIGINT,
    auctions BIGINT,
    spent BIGINT
) WITH (
    'connector' = 'filesystem',
    'path' = '/tmp/reka-sessions',
    'format' = 'json'
);

INSERT INTO sessions
SELECT bidder,
       SESSION_START(dateTime, INTERVAL '5' SECOND),
       SESSION_END(dateTime, INTERVAL '5' SECOND),
       COUNT(*), COUNT(DISTINCT auction), SUM(price)
FROM bids
GROUP BY bidder, SESSION(dateTime, INTERVAL '5' SECOND);
