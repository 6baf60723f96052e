-- Revocation cut-offs compare instants to the millisecond, so that "log out everywhere" refuses
-- every credential issued before it and none issued after it within the same second.
-- A credential survives when it was issued strictly after valid_after. Under the old rule a
-- credential of second s survived a cut-off at s; s * 1000 - 1 keeps exactly that.
UPDATE auth_user SET valid_after = valid_after * 1000 - 1 WHERE valid_after > 0;
UPDATE authtoken_token SET created = created * 1000;
UPDATE auth_session SET created = created * 1000;

-- Rotation grace: when a refresh token was rotated (now in milliseconds) and the jti of the one
-- successor it got, so that refreshes within the grace re-mint that same successor.
UPDATE token_blacklist_outstandingtoken SET rotated_at = rotated_at * 1000
    WHERE rotated_at IS NOT NULL;
ALTER TABLE token_blacklist_outstandingtoken ADD COLUMN successor TEXT;
