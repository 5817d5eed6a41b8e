-- Directory status, an audit trail that says through what and shows the
-- record before and after, and indexes for paging the lists.

-- `active`, `deactivated` or `removed`; removed users keep their row so their
-- opt-out state stands and their history stays readable.
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'deactivated', 'removed'));

-- `via` is empty for entries written before it was recorded. `before_state`
-- and `after_state` hold JSON objects as text, as on SQLite.
ALTER TABLE audit ADD COLUMN via TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN actor_name TEXT;
ALTER TABLE audit ADD COLUMN before_state TEXT;
ALTER TABLE audit ADD COLUMN after_state TEXT;
CREATE INDEX audit_by_target ON audit (org, target, id);

-- The opted-out list pages newest first.
CREATE INDEX opt_outs_by_time ON opt_outs (org, at DESC, user_id);
