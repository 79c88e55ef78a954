-- Failed logins per username and client address, for the login rate limit (登录失败限制).
-- Kept in PostgreSQL so every API replica sees the same count; a success clears them.
CREATE TABLE common.login_failures (
    id        bigserial PRIMARY KEY,
    username  text NOT NULL,
    client    text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_user_idx ON common.login_failures (username, client, at);
