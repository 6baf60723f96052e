-- Where each user last logged in successfully with a password, by client network (an IPv4
-- address or an IPv6 /64): the per-username login throttle spares a network the user logged in
-- from in the last 30 days, so a stranger cannot lock the user out.
CREATE TABLE restauth_login_network (
    user_id BIGINT NOT NULL REFERENCES auth_user (id) ON DELETE CASCADE,
    network TEXT NOT NULL,
    last_success BIGINT NOT NULL,
    PRIMARY KEY (user_id, network)
);
