-- Directory status, an audit trail that says through what and shows the
-- record before and after, and indexes for paging the lists.

-- `active`, `deactivated` or `removed`; removed users keep their row so their
-- opt-out state stands and their history stays readable.
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'deactivated', 'removed'));

-- What a search matches: id, name and email, lowercased once when written
-- (by the server from then on, Unicode-aware), so a search scans one column
-- instead of lowercasing three per row and query. Existing rows get the
-- database's own lowercasing until they are next written.
ALTER TABLE users ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE users SET search_text = lower(concat_ws(' ', id, name, email) COLLATE "default");

-- `via` is empty for entries written before it was recorded. `before_state`
-- and `after_state` hold JSON objects as text, as on SQLite.
ALTER TABLE audit ADD COLUMN via TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN actor_name TEXT;
ALTER TABLE audit ADD COLUMN before_state TEXT;
ALTER TABLE audit ADD COLUMN after_state TEXT;
CREATE INDEX audit_by_target ON audit (org, target, id);

-- The opted-out list pages newest first.
CREATE INDEX opt_outs_by_time ON opt_outs (org, at DESC, user_id);
