-- The opt-out registry on PostgreSQL, shared by many server instances.
-- Times are unix milliseconds. Ids and sort keys use the "C" collation so
-- listings order bytewise, exactly as on SQLite, whatever the database locale.

CREATE TABLE orgs (
    id         TEXT COLLATE "C" PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    org        TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    id         TEXT COLLATE "C" NOT NULL,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    sort_key   TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org, id)
);
CREATE INDEX users_by_name ON users (org, sort_key, id);

CREATE TABLE opt_outs (
    org     TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    PRIMARY KEY (org, user_id),
    FOREIGN KEY (org, user_id) REFERENCES users (org, id)
);

-- The newest revision of the change log, in a single row. Writers of changes
-- lock this row first, so they commit one after another: revisions are
-- contiguous and become visible in order (a sequence would leave gaps on
-- rollback and let concurrent writers commit out of order).
CREATE TABLE registry_head (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    rev       BIGINT NOT NULL CHECK (rev >= 0)
);
INSERT INTO registry_head (singleton, rev) VALUES (TRUE, 0);

-- Append-only; `rev` is assigned from `registry_head`.
CREATE TABLE changes (
    rev       BIGINT PRIMARY KEY CHECK (rev > 0),
    org       TEXT COLLATE "C" NOT NULL,
    user_id   TEXT COLLATE "C" NOT NULL,
    opted_out BOOLEAN NOT NULL,
    actor     TEXT NOT NULL,
    at        BIGINT NOT NULL
);

CREATE TABLE audit (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org    TEXT COLLATE "C" NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX audit_by_org ON audit (org, id);

-- `seq` keeps insertion order among keys added in the same millisecond.
CREATE TABLE signing_keys (
    kid        TEXT COLLATE "C" PRIMARY KEY,
    secret     BYTEA NOT NULL,
    current    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    seq        BIGINT GENERATED ALWAYS AS IDENTITY
);
-- At most one current key, whatever instances race to rotate.
CREATE UNIQUE INDEX one_current_signing_key ON signing_keys (current) WHERE current;

CREATE TABLE service_keys (
    id          TEXT COLLATE "C" PRIMARY KEY,
    org         TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    secret_hash BYTEA NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    seq         BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX service_keys_by_org ON service_keys (org, created_at, seq);

CREATE TABLE used_nonces (
    nonce      TEXT COLLATE "C" PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_nonces_by_expiry ON used_nonces (expires_at);
