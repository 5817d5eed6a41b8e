-- The opt-out registry on SQLite. Times are unix milliseconds.

CREATE TABLE orgs (
    id         TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    org        TEXT NOT NULL REFERENCES orgs (id),
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    sort_key   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org, id)
);
CREATE INDEX users_by_name ON users (org, sort_key, id);

CREATE TABLE opt_outs (
    org     TEXT NOT NULL,
    user_id TEXT NOT NULL,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    PRIMARY KEY (org, user_id),
    FOREIGN KEY (org, user_id) REFERENCES users (org, id)
);

-- Append-only; AUTOINCREMENT never reuses a revision, even after deletes.
CREATE TABLE changes (
    rev       INTEGER PRIMARY KEY AUTOINCREMENT,
    org       TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    opted_out INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    at        INTEGER NOT NULL
);

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    org    TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX audit_by_org ON audit (org, id);

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY NOT NULL,
    secret     BLOB NOT NULL,
    current    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE service_keys (
    id          TEXT PRIMARY KEY NOT NULL,
    org         TEXT NOT NULL REFERENCES orgs (id),
    secret_hash BLOB NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE used_nonces (
    nonce      TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);
