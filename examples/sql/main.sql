-- Reka's main job: NEXMark's auction site from the built-in generator (Flink's nexmark table),
-- one-second windows of bids per channel with their count, highest and mean price, printed as
-- each window closes. `bash scripts/demo.sh` runs it on every core.
SET 'pipeline.name' = 'bids-per-channel';

CREATE TABLE datagen (
    event_type int,
    person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR,
               dateTime TIMESTAMP(3), extra VARCHAR>,
    auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT,
                dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,
    bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, dateTime TIMESTAMP(3), extra VARCHAR>,
    dateTime AS
        CASE
            WHEN event_type = 0 THEN person.dateTime
            WHEN event_type = 1 THEN auction.dateTime
            ELSE bid.dateTime
        END,
    WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'first-event.rate' = '10000000',
    'next-event.rate' = '10000000',
    'events.num' = '100000000'
);

CREATE VIEW bid AS
SELECT bid.auction, bid.bidder, bid.price, bid.channel, bid.url, dateTime, bid.extra
FROM datagen WHERE event_type = 2;

CREATE TABLE channel_stats (
    window_start TIMESTAMP(3),
    channel VARCHAR,
    bids BIGINT,
    max_price BIGINT,
    avg_price BIGINT
) WITH (
    'connector' = 'print'
);

INSERT INTO channel_stats
SELECT window_start, channel, COUNT(*), MAX(price), AVG(price)
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '1' SECOND))
WHERE channel IN ('Apple', 'Google', 'Facebook', 'Baidu')
GROUP BY window_start, window_end, channel;
