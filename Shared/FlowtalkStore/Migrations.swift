/// Flowtalk's schema, in order. Never edit a migration that has shipped; add a new one (from 15 on, in
/// `Migrations+Privacy.swift` and files like it, so no file grows past one sitting).
package enum FlowtalkMigrations {
    package static let all: [Migration] = foundation + privacy + automation

    /// Migrations 1–14: the queue, accounts, automation, analytics, account recovery.
    static let foundation: [Migration] = [
        Migration(
            version: 1, name: "job queue",
            statements: [
                """
                CREATE TABLE jobs (
                    id bigserial PRIMARY KEY,
                    kind text NOT NULL,
                    payload bytea NOT NULL,
                    dedupe_key text,
                    serialization_key text,
                    priority smallint NOT NULL DEFAULT 0,
                    state text NOT NULL DEFAULT 'available' CHECK (state IN ('available', 'running', 'dead')),
                    attempts integer NOT NULL DEFAULT 0,
                    max_attempts integer NOT NULL DEFAULT 8 CHECK (max_attempts > 0),
                    run_at timestamptz NOT NULL DEFAULT now(),
                    created_at timestamptz NOT NULL DEFAULT now(),
                    started_at timestamptz,
                    locked_until timestamptz,
                    locked_by text,
                    lease_id uuid,
                    last_error text,
                    dead_at timestamptz
                )
                """,
                "CREATE UNIQUE INDEX jobs_dedupe_key ON jobs (dedupe_key) WHERE dedupe_key IS NOT NULL",
                "CREATE INDEX jobs_available ON jobs (priority DESC, run_at, id) WHERE state = 'available'",
                "CREATE INDEX jobs_running_lease ON jobs (locked_until) WHERE state = 'running'",
                "CREATE INDEX jobs_serialization ON jobs (serialization_key, id) WHERE serialization_key IS NOT NULL",
                "CREATE INDEX jobs_dead ON jobs (dead_at) WHERE state = 'dead'",
                // Dedupe keys outlive their jobs: Meta redelivers for up to 36 hours, long after the job was done and deleted.
                "CREATE TABLE job_dedupe (key text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now())",
                "CREATE INDEX job_dedupe_created ON job_dedupe (created_at)",
            ]),
        Migration(
            version: 2, name: "accounts, connections, rules, replies, activity, counts",
            statements: [
                """
                CREATE TABLE accounts (
                    id uuid PRIMARY KEY,
                    email text NOT NULL UNIQUE,
                    password_hash text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                """
                CREATE TABLE instagram_connections (
                    account_id uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
                    ig_user_id text NOT NULL UNIQUE,
                    username text,
                    token_sealed bytea NOT NULL,
                    token_expires_at timestamptz,
                    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'needs_reconnect')),
                    connected_at timestamptz NOT NULL DEFAULT now(),
                    token_refreshed_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                """
                CREATE TABLE reply_rules (
                    id uuid PRIMARY KEY,
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    keywords text[] NOT NULL,
                    match_type text NOT NULL CHECK (match_type IN ('contains', 'exact', 'starts_with', 'any_word', 'regex')),
                    negative_keywords text[] NOT NULL DEFAULT '{}',
                    priority integer NOT NULL DEFAULT 0,
                    enabled boolean NOT NULL DEFAULT true,
                    reply text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                "CREATE INDEX reply_rules_account ON reply_rules (account_id)",
                """
                CREATE TABLE account_settings (
                    account_id uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
                    cooldown_seconds integer NOT NULL DEFAULT 10 CHECK (cooldown_seconds >= 0),
                    human_pause_minutes integer NOT NULL DEFAULT 60 CHECK (human_pause_minutes >= 0),
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                """
                CREATE TABLE conversations (
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    customer_id text NOT NULL,
                    last_customer_message_at timestamptz,
                    last_reply_at timestamptz,
                    paused_until timestamptz,
                    PRIMARY KEY (account_id, customer_id)
                )
                """,
                // One row per handled event: makes every decision, activity entry and count happen once even when a job runs twice.
                """
                CREATE TABLE handled_events (
                    mid text NOT NULL,
                    kind text NOT NULL,
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    handled_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (mid, kind)
                )
                """,
                "CREATE INDEX handled_events_time ON handled_events (handled_at)",
                // The reply to one inbound message; `sending` is committed before the Graph API call.
                """
                CREATE TABLE replies (
                    id bigserial PRIMARY KEY,
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    inbound_mid text NOT NULL UNIQUE,
                    customer_id text NOT NULL,
                    state text NOT NULL CHECK (state IN ('sending', 'sent', 'retry', 'failed', 'unknown')),
                    source text NOT NULL CHECK (source IN ('rule', 'ai', 'ice_breaker', 'fallback')),
                    rule_id uuid,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    finished_at timestamptz,
                    error text
                )
                """,
                "CREATE INDEX replies_account ON replies (account_id)",
                """
                CREATE TABLE sent_messages (
                    mid text PRIMARY KEY,
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    reply_id bigint REFERENCES replies (id) ON DELETE CASCADE,
                    created_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                """
                CREATE TABLE activity (
                    id bigserial PRIMARY KEY,
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    occurred_at timestamptz NOT NULL DEFAULT now(),
                    customer_id text,
                    event_kind text NOT NULL,
                    summary text,
                    outcome text NOT NULL,
                    source text,
                    rule_id uuid,
                    reason text,
                    latency_ms integer
                )
                """,
                "CREATE INDEX activity_account_time ON activity (account_id, occurred_at DESC, id DESC)",
                // Counts per UTC hour, so statistics can be cut into days of any time zone.
                """
                CREATE TABLE hourly_counts (
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    hour timestamptz NOT NULL,
                    metric text NOT NULL,
                    count bigint NOT NULL DEFAULT 0,
                    PRIMARY KEY (account_id, hour, metric)
                )
                """,
            ]),
        Migration(
            version: 3, name: "ice breakers",
            statements: [
                """
                CREATE TABLE ice_breakers (
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    position smallint NOT NULL CHECK (position BETWEEN 1 AND 4),
                    question text NOT NULL,
                    answer text NOT NULL,
                    payload text NOT NULL,
                    PRIMARY KEY (account_id, position),
                    UNIQUE (account_id, payload)
                )
                """,
            ]),
        Migration(
            version: 4, name: "sessions, rate limits, AI settings",
            statements: [
                // Only the SHA-256 of a session token is stored: a database read does not yield live sessions.
                """
                CREATE TABLE sessions (
                    token_hash bytea PRIMARY KEY,
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    last_seen_at timestamptz NOT NULL DEFAULT now(),
                    expires_at timestamptz NOT NULL
                )
                """,
                "CREATE INDEX sessions_account ON sessions (account_id)",
                "CREATE INDEX sessions_expiry ON sessions (expires_at)",
                // Shared by every replica: a limit holds however many auth instances run.
                """
                CREATE TABLE rate_limits (
                    key text PRIMARY KEY,
                    window_start timestamptz NOT NULL,
                    count integer NOT NULL
                )
                """,
                "ALTER TABLE account_settings ADD COLUMN ai_enabled boolean NOT NULL DEFAULT false",
                "ALTER TABLE account_settings ADD COLUMN business_description text NOT NULL DEFAULT ''",
                "ALTER TABLE account_settings ADD COLUMN fallback_text text NOT NULL DEFAULT ''",
            ]),
        Migration(
            version: 5, name: "oauth states, deletion requests",
            statements: [
                // A single-use, expiring OAuth state bound to the session that started the connect.
                """
                CREATE TABLE oauth_states (
                    state_hash bytea PRIMARY KEY,
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    session_hash bytea NOT NULL,
                    expires_at timestamptz NOT NULL
                )
                """,
                // Meta's data-deletion callbacks, for the status page they link to. No account id: it may be gone.
                """
                CREATE TABLE deletion_requests (
                    confirmation_code text PRIMARY KEY,
                    status text NOT NULL,
                    requested_at timestamptz NOT NULL DEFAULT now()
                )
                """,
            ]),
        Migration(
            version: 6, name: "AI replies: settings, usage, reply states",
            statements: [
                "ALTER TABLE account_settings ADD COLUMN ai_tone text NOT NULL DEFAULT ''",
                "ALTER TABLE account_settings ADD COLUMN ai_memory boolean NOT NULL DEFAULT false",
                "ALTER TABLE account_settings ADD COLUMN ai_daily_budget integer NOT NULL DEFAULT 200 CHECK (ai_daily_budget BETWEEN 0 AND 100000)",
                // `pending`: an AI answer is being asked for (nothing sent yet); `skipped`: decided not to send after all.
                "ALTER TABLE replies DROP CONSTRAINT replies_state_check",
                """
                ALTER TABLE replies ADD CONSTRAINT replies_state_check
                    CHECK (state IN ('pending', 'sending', 'sent', 'retry', 'failed', 'unknown', 'skipped'))
                """,
                // AI calls per account and UTC day, for the daily budget (checked and counted in one statement).
                """
                CREATE TABLE ai_usage (
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    day date NOT NULL,
                    calls integer NOT NULL,
                    PRIMARY KEY (account_id, day)
                )
                """,
                // AI answers in a conversation within a rolling 24 hours, for the per-conversation limit.
                "ALTER TABLE conversations ADD COLUMN ai_replies integer NOT NULL DEFAULT 0",
                "ALTER TABLE conversations ADD COLUMN ai_window_start timestamptz",
                // The start of what the bot answered (80 characters), for the log and the AI's short memory.
                "ALTER TABLE activity ADD COLUMN reply_summary text",
            ]),
        Migration(
            version: 7, name: "analytics indexes",
            statements: [
                // The activity log pages by id within an account; the retention purge finds old entries by time.
                "CREATE INDEX activity_account_id ON activity (account_id, id DESC)",
                "CREATE INDEX activity_time ON activity (occurred_at)",
            ]),
        Migration(
            version: 8, name: "reply notes",
            statements: [
                // Why the fallback text was sent instead of an AI answer, kept for a resend after a Graph API retry.
                "ALTER TABLE replies ADD COLUMN note text",
            ]),
        Migration(
            version: 9, name: "queue: scheduled jobs apart, a claim whose cost does not depend on the backlog",
            statements: [
                // Jobs due later wait as 'scheduled' and are promoted when due, so the available index holds only work
                // that can run now and the claim's index walk stops at its limit (issue #10).
                "ALTER TABLE jobs DROP CONSTRAINT jobs_state_check",
                "ALTER TABLE jobs ADD CONSTRAINT jobs_state_check CHECK (state IN ('scheduled', 'available', 'running', 'dead'))",
                "UPDATE jobs SET state = 'scheduled' WHERE state = 'available' AND run_at > now()",
                "CREATE INDEX jobs_scheduled ON jobs (run_at) WHERE state = 'scheduled'",
                // A queue table churns: vacuum and analyze it after a fixed number of changes, not a fraction of its size.
                """
                ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000,
                    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 2000, autovacuum_vacuum_cost_delay = 0)
                """,
                // The claim first promotes scheduled jobs that are due (an index probe when none are), then claims, with the
                // plan pinned: an ordered walk of jobs_available that stops at the limit, whatever the
                // statistics say (with none, after a burst, the planner chose a bitmap scan and a sort of the whole backlog),
                // and updates found by id (`= ANY(ARRAY(…))`: a join could scan the whole primary key); no JIT (a large
                // backlog made the estimate high enough to compile the plan, 17 ms of a 1 ms claim).
                """
                CREATE FUNCTION flowtalk_claim(p_kinds text[], p_limit integer, p_worker text, p_lease_ms bigint, p_lease uuid)
                RETURNS TABLE (id bigint, kind text, payload bytea, attempts integer, max_attempts integer, wait float8)
                LANGUAGE sql VOLATILE
                SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off SET jit = off
                AS $$
                    UPDATE jobs SET state = 'available'
                    WHERE id = ANY (ARRAY(SELECT s.id FROM jobs s WHERE s.state = 'scheduled' AND s.run_at <= now()
                                          ORDER BY s.run_at LIMIT 1000 FOR UPDATE SKIP LOCKED));
                    WITH picked AS MATERIALIZED (
                        SELECT j.id FROM jobs j
                        WHERE j.state = 'available' AND j.run_at <= now() AND j.kind = ANY(p_kinds)
                          AND (j.serialization_key IS NULL OR NOT EXISTS (
                                SELECT 1 FROM jobs earlier
                                WHERE earlier.serialization_key = j.serialization_key AND earlier.id < j.id AND earlier.state <> 'dead'))
                        ORDER BY j.priority DESC, j.run_at, j.id
                        LIMIT p_limit
                        FOR UPDATE SKIP LOCKED
                    )
                    UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, started_at = now(),
                           locked_until = now() + p_lease_ms * interval '1 millisecond', locked_by = p_worker, lease_id = p_lease
                    WHERE jobs.id = ANY (ARRAY(SELECT picked.id FROM picked))
                    RETURNING jobs.id, jobs.kind, jobs.payload, jobs.attempts, jobs.max_attempts,
                              GREATEST(0, EXTRACT(EPOCH FROM now() - GREATEST(jobs.created_at, jobs.run_at)))::float8
                $$
                """,
            ]),
        Migration(
            version: 10, name: "counts spread over shards",
            statements: [
                // Every decision of one account added to the same counter rows, so its replies queued on one row lock
                // (and stayed "sending" while they waited: issue #10). Each write now picks one of 16 shards; readers sum.
                "ALTER TABLE hourly_counts ADD COLUMN shard smallint NOT NULL DEFAULT 0",
                "ALTER TABLE hourly_counts DROP CONSTRAINT hourly_counts_pkey",
                "ALTER TABLE hourly_counts ADD PRIMARY KEY (account_id, hour, metric, shard)",
            ]),
        Migration(
            version: 11, name: "sent messages by reply",
            statements: [
                // An echo that confirms an interrupted reply counts the reply's messages (at most two).
                "CREATE INDEX sent_messages_reply ON sent_messages (reply_id)",
            ]),
        Migration(
            version: 12, name: "when a reply's latest send began",
            statements: [
                // An echo confirms an interrupted send when it comes soon after that send began. A reply parked for a
                // retry (a 429 storm, an outage) is sent long after it was created, so the window is anchored here.
                "ALTER TABLE replies ADD COLUMN sending_at timestamptz",
            ]),
        Migration(
            version: 13, name: "email verification and single-use account tokens",
            statements: [
                // Accounts made before this migration start unverified (NULL): their address was never proven, and
                // marking them verified would hand any squatted address a proof it never gave. Their owners keep signing in
                // and their connections keep running; the dashboard asks them once to verify (one click and a link), and a
                // password reset proves the address too.
                "ALTER TABLE accounts ADD COLUMN email_verified_at timestamptz",
                // Links mailed to an account: only the token's SHA-256 is kept. `email` is the address the link was sent
                // to (for change_email: the new address); a link acts only while it still fits the account. One live token
                // per account and purpose: a new one replaces the older. Consumed by deleting it in the transaction that
                // acts on it. Lifetimes (set by the writer): 24 h to verify an address, 30 min to reset a password.
                """
                CREATE TABLE account_tokens (
                    token_hash bytea PRIMARY KEY,
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    purpose text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'change_email')),
                    email text NOT NULL,
                    expires_at timestamptz NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                "CREATE UNIQUE INDEX account_tokens_account_purpose ON account_tokens (account_id, purpose)",
                "CREATE INDEX account_tokens_expires ON account_tokens (expires_at)",
            ]),
        Migration(
            version: 14, name: "sign-in failures; indexes for the hourly purge",
            statements: [
                // Failed sign-ins per (email, client) and per email (client '*'): growing delays for one client, a bound
                // across many clients that never blocks a client that has not failed. Successes are not counted.
                """
                CREATE TABLE sign_in_failures (
                    email text NOT NULL,
                    client text NOT NULL,
                    failures integer NOT NULL DEFAULT 0,
                    window_start timestamptz NOT NULL DEFAULT now(),
                    last_failure_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (email, client)
                )
                """,
                "CREATE INDEX sign_in_failures_last ON sign_in_failures (last_failure_at)",
                "CREATE INDEX rate_limits_window ON rate_limits (window_start)",
                "CREATE INDEX oauth_states_expiry ON oauth_states (expires_at)",
            ]),
    ]
}
