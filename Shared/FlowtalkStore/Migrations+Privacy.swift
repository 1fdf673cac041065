extension FlowtalkMigrations {
    /// Migrations 15 on: the privacy policy's promises (issue 13, 15–19), then what came after (20: the cooldown's answer key).
    static let privacy: [Migration] = [
        Migration(
            version: 15, name: "every id Meta's callbacks may name; what a deletion request found",
            statements: [
                // Meta's deauthorize and data-deletion callbacks name a `user_id` that is most likely the app-scoped id
                // (`/me.id`) or the code exchange's `user_id`, not the IG user id webhooks carry: all are kept and any
                // matches. Connections made before this migration get them from `/me` at their next token refresh.
                "ALTER TABLE instagram_connections ADD COLUMN app_scoped_id text",
                "ALTER TABLE instagram_connections ADD COLUMN login_user_id text",
                "CREATE INDEX instagram_connections_app_scoped ON instagram_connections (app_scoped_id) WHERE app_scoped_id IS NOT NULL",
                "CREATE INDEX instagram_connections_login_user ON instagram_connections (login_user_id) WHERE login_user_id IS NOT NULL",
                // What the request deleted, for the status page: `deleted` (something was held) or `nothing_held`.
                "ALTER TABLE deletion_requests ADD COLUMN outcome text NOT NULL DEFAULT 'deleted' CHECK (outcome IN ('deleted', 'nothing_held'))",
                "ALTER TABLE deletion_requests ADD COLUMN deleted_rows integer NOT NULL DEFAULT 0",
            ]),
        Migration(
            version: 16, name: "privacy policy versions accepted",
            statements: [
                // Which version of the privacy policy an account accepted, and when (sign-up, then each newer version
                // read in the dashboard). Accounts made before this migration have none: the dashboard asks them.
                """
                CREATE TABLE policy_acceptances (
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    version text NOT NULL,
                    accepted_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (account_id, version)
                )
                """,
                // The browser a session was started from (at most 200 characters), shown in the export; never the token.
                "ALTER TABLE sessions ADD COLUMN user_agent text",
            ]),
        Migration(
            version: 17, name: "unsent messages lose their text",
            statements: [
                // The message an entry is about, so a customer's unsend can find it: its text and the reply's go, and
                // `unsent_at` says when. Entries written before this migration have no mid (they age out in 90 days).
                "ALTER TABLE activity ADD COLUMN mid text",
                "ALTER TABLE activity ADD COLUMN unsent_at timestamptz",
                "CREATE INDEX activity_mid ON activity (account_id, mid) WHERE mid IS NOT NULL",
            ]),
        Migration(
            version: 18, name: "customer ids kept 30 days after last use",
            statements: [
                // Written at every message and never read: dropped (the privacy policy keeps only what is used).
                "ALTER TABLE conversations DROP COLUMN last_customer_message_at",
                // A conversation (cooldown, pause, AI limits) is needed for hours; it is deleted 30 days after its last
                // use, replies and sent-message ids 30 days after they were finished (DispatchMaintenance, hourly).
                "ALTER TABLE conversations ADD COLUMN last_used_at timestamptz NOT NULL DEFAULT now()",
                "CREATE INDEX conversations_last_used ON conversations (last_used_at)",
                "CREATE INDEX replies_last_used ON replies ((COALESCE(finished_at, created_at)))",
                "CREATE INDEX sent_messages_created ON sent_messages (created_at)",
            ]),
        Migration(
            version: 19, name: "the ids of removed connections, for a later data-deletion request",
            statements: [
                // Meta sends deauthorize when the app is removed and may send data deletion later: the ids (never the
                // token) of a connection that was removed are kept 90 days, as long as anything derived from it can be.
                """
                CREATE TABLE former_connections (
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    ig_user_id text NOT NULL,
                    app_scoped_id text,
                    login_user_id text,
                    removed_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                "CREATE INDEX former_connections_ig ON former_connections (ig_user_id)",
                "CREATE INDEX former_connections_app_scoped ON former_connections (app_scoped_id) WHERE app_scoped_id IS NOT NULL",
                "CREATE INDEX former_connections_login_user ON former_connections (login_user_id) WHERE login_user_id IS NOT NULL",
                "CREATE INDEX former_connections_removed ON former_connections (removed_at)",
            ]),
        Migration(
            version: 20, name: "what each reply answered, for the cooldown",
            statements: [
                // The cooldown stops the same answer from going to a customer twice within cooldown_seconds, never a new
                // question: each reply records which answer it was ("rule:<id>", "ice_breaker:<position>", "fallback").
                "ALTER TABLE replies ADD COLUMN answer_key text",
                "CREATE INDEX replies_cooldown ON replies (account_id, customer_id, answer_key, created_at) WHERE answer_key IS NOT NULL",
                // The last hour's replies (the longest cooldown) get their key, so an answer sent just before the upgrade
                // is not sent again just after it. An Ice Breaker's position was not recorded: those start afresh.
                """
                UPDATE replies SET answer_key = CASE WHEN source = 'fallback' THEN 'fallback' ELSE 'rule:' || rule_id::text END
                WHERE created_at > now() - interval '1 hour' AND (source = 'fallback' OR (source = 'rule' AND rule_id IS NOT NULL))
                """,
            ]),
        Migration(
            version: 21, name: "what each rule answers: direct messages, story replies, story mentions",
            statements: [
                """
                ALTER TABLE reply_rules ADD COLUMN trigger text NOT NULL DEFAULT 'message'
                    CHECK (trigger IN ('message', 'story_reply', 'story_mention', 'any'))
                """,
                // A conversation's thread in the dashboard (GET /api/activity?customer=) reads one customer's entries.
                "CREATE INDEX activity_account_customer ON activity (account_id, customer_id, id DESC)",
            ]),
        Migration(
            version: 22, name: "hand-off rules",
            statements: [
                // A rule whose reply hands the conversation to a person: the bot steps back for hand_off_minutes.
                "ALTER TABLE reply_rules ADD COLUMN action text NOT NULL DEFAULT 'reply' CHECK (action IN ('reply', 'hand_off'))",
                "ALTER TABLE reply_rules ADD COLUMN hand_off_minutes integer NOT NULL DEFAULT 60 CHECK (hand_off_minutes BETWEEN 1 AND 10080)",
            ]),
    ]
}
