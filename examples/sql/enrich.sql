-- A join: each bid with its auction's item and seller (auctions and bids from CSV files), kept
-- only for expensive bids; and a running total per seller as an updating result.
CREATE TABLE bids (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3))
WITH ('connector' = 'filesystem', 'path' = 'examples/sql/data/bids.csv', 'format' = 'csv');

CREATE TABLE auctions (id BIGINT, item STRING, seller BIGINT)
WITH ('connector' = 'filesystem', 'path' = 'examples/sql/data/auctions.csv', 'format' = 'csv');

CREATE TABLE expensive_bids (item STRING, seller BIGINT, bidder BIGINT, price BIGINT) WITH ('connector' = 'print');
CREATE TABLE seller_totals (seller BIGINT, bids BIGINT, total BIGINT) WITH ('connector' = 'print');

INSERT INTO expensive_bids
SELECT a.item, a.seller, b.bidder, b.price
FROM bids b JOIN auctions a ON b.auction = a.id
WHERE b.price >= 500;

INSERT INTO seller_totals
SELECT a.seller, COUNT(*), SUM(b.price)
FROM bids b, auctions a
WHERE b.auction = a.id
GROUP BY a.seller;
