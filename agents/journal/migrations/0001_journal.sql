-- The journal, version 1, for PostgreSQL and SQLite alike (SQLite stores the BYTEA payload as the
-- blob it is given). Money in the core's integers: price in ticks (1e-4 USDC), sizes in
-- micro-shares, cash in micro-USDC; times in Unix nanoseconds.
CREATE TABLE journal (
    kind      TEXT   NOT NULL,
    key       TEXT   NOT NULL,
    ts_ns     BIGINT NOT NULL,
    namespace TEXT   NOT NULL,
    strategy  TEXT   NOT NULL,
    trace_id  TEXT,
    payload   BYTEA  NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX journal_by_time ON journal (kind, ts_ns);
CREATE INDEX journal_by_strategy ON journal (namespace, strategy, ts_ns);

CREATE TABLE fills (
    fill_id         TEXT   NOT NULL,
    status          TEXT   NOT NULL CHECK (status IN ('matched', 'confirmed', 'failed')),
    ts_ns           BIGINT NOT NULL,
    namespace       TEXT   NOT NULL,
    strategy        TEXT   NOT NULL,
    risk_policy     TEXT   NOT NULL,
    client_order_id TEXT   NOT NULL,
    market          TEXT   NOT NULL,
    token           TEXT   NOT NULL,
    side            TEXT   NOT NULL CHECK (side IN ('buy', 'sell')),
    price_ticks     BIGINT NOT NULL CHECK (price_ticks BETWEEN 0 AND 10000),
    size_micros     BIGINT NOT NULL CHECK (size_micros >= 0),
    fee_micros      BIGINT NOT NULL,
    liquidity       TEXT   NOT NULL CHECK (liquidity IN ('maker', 'taker')),
    mode            TEXT   NOT NULL CHECK (mode IN ('paper', 'shadow', 'live')),
    trace_id        TEXT,
    PRIMARY KEY (fill_id, status)
);
CREATE INDEX fills_by_time ON fills (ts_ns);
CREATE INDEX fills_by_strategy ON fills (namespace, strategy, ts_ns);
