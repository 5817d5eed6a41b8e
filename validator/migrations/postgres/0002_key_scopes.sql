-- Service keys carry scopes, an optional expiry and their last use.
-- A key stored before this migration has no scopes (NULL) and reads as a
-- full key, so it keeps working until it is rotated.

ALTER TABLE service_keys ADD COLUMN scopes TEXT;
ALTER TABLE service_keys ADD COLUMN expires_at BIGINT;
ALTER TABLE service_keys ADD COLUMN last_used_at BIGINT;
