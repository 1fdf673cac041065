import FlowtalkContracts

extension FlowtalkMigrations {
    /// Migrations 23 on: richer automation (issue 16): menus, business hours, welcome, disclosure, connection checks; then
    /// issue 17's packed hours and cached claim plans.
    static let automation: [Migration] = [
        Migration(
            version: 23, name: "quick replies and buttons, welcome, away and disclosure, connection checks",
            statements: [
                // A rule's options: quick replies or postback buttons, each a title and the rule that answers its tap.
                """
                ALTER TABLE reply_rules ADD COLUMN option_kind text CHECK (option_kind IN ('quick_replies', 'buttons'))
                """,
                "ALTER TABLE reply_rules ADD COLUMN option_titles text[] NOT NULL DEFAULT '{}'",
                "ALTER TABLE reply_rules ADD COLUMN option_targets uuid[] NOT NULL DEFAULT '{}'",
                "ALTER TABLE account_settings ADD COLUMN welcome_text text NOT NULL DEFAULT ''",
                "ALTER TABLE account_settings ADD COLUMN welcome_mode text NOT NULL DEFAULT 'before' CHECK (welcome_mode IN ('before', 'instead'))",
                "ALTER TABLE account_settings ADD COLUMN away_text text NOT NULL DEFAULT ''",
                // The weekly schedule as the API takes it ({"mon": [["09:00", "18:00"]], …}); '{}' is no schedule.
                "ALTER TABLE account_settings ADD COLUMN business_hours text NOT NULL DEFAULT '{}'",
                "ALTER TABLE account_settings ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'",
                "ALTER TABLE account_settings ADD COLUMN rules_out_of_hours boolean NOT NULL DEFAULT true",
                "ALTER TABLE account_settings ADD COLUMN bot_disclosure_text text NOT NULL DEFAULT ''",
                "ALTER TABLE account_settings ADD COLUMN ai_hand_off boolean NOT NULL DEFAULT false",
                // What each conversation has been sent once: the welcome (once per customer), the disclosure (once per
                // conversation) and the last away message (once per closed period). The welcome goes with the first event
                // of a new conversation only; customers who wrote before this migration are not new.
                "ALTER TABLE conversations ADD COLUMN welcomed_at timestamptz",
                "ALTER TABLE conversations ADD COLUMN disclosed_at timestamptz",
                "ALTER TABLE conversations ADD COLUMN away_sent_at timestamptz",
                "UPDATE conversations SET welcomed_at = now()",
                // A reply may be only the welcome or the away message.
                "ALTER TABLE replies DROP CONSTRAINT replies_source_check",
                "ALTER TABLE replies ADD CONSTRAINT replies_source_check CHECK (source IN ('rule', 'ai', 'ice_breaker', 'fallback', 'welcome', 'away'))",
                // The daily connection check (dispatch): when it ran, whether the token worked, whether webhooks are on.
                "ALTER TABLE instagram_connections ADD COLUMN last_check_at timestamptz",
                "ALTER TABLE instagram_connections ADD COLUMN last_check_ok boolean",
                "ALTER TABLE instagram_connections ADD COLUMN webhooks_subscribed boolean",
                // Why the last check failed: token_expired, token_revoked, token_invalid (the connection needs reconnecting).
                "ALTER TABLE instagram_connections ADD COLUMN last_check_error text",
            ]),
        Migration(
            version: 24, name: "what a reply carries besides its answer",
            statements: [
                // Decided with the reply: the greetings (kinds) and a hand-off's minutes, so a retry or an interrupted
                // send knows them.
                "ALTER TABLE replies ADD COLUMN greetings text[] NOT NULL DEFAULT '{}'",
                "ALTER TABLE replies ADD COLUMN hand_off_minutes integer",
            ]),
        Migration(
            version: 25, name: "latency buckets in the hourly counts",
            statements: [
                // The statistics' percentiles now come from hourly bucket counts (`latency_le:<ms>`, LatencyHistogram),
                // which dispatch adds with each reply sent; the replies already in the activity log (90 days) get theirs.
                """
                INSERT INTO hourly_counts (account_id, hour, metric, shard, count)
                SELECT account_id, date_trunc('hour', occurred_at), \(LatencyHistogram.sqlBucket("latency_ms")), 0, count(*)
                FROM activity WHERE outcome = 'replied' AND latency_ms IS NOT NULL
                GROUP BY 1, 2, 3
                ON CONFLICT (account_id, hour, metric, shard) DO UPDATE SET count = hourly_counts.count + EXCLUDED.count
                """,
            ]),
        Migration(
            version: 26, name: "folding past hours' counter shards",
            statements: [
                // Analytics' hourly job folds the shards of past hours into shard 0: it finds them by this index.
                "CREATE INDEX hourly_counts_unfolded ON hourly_counts (hour) WHERE shard > 0",
            ]),
        Migration(
            version: 27, name: "past hours' counts packed into one row per hour",
            statements: [
                // Issue 17: 90 days read one row per hour (its metrics and counts side by side), not one per hour and
                // metric. Analytics' hourly job moves each hour two hours past here from hourly_counts, whatever its shard
                // (the history too, batch by batch, after the upgrade); hourly_counts keeps the hours still being written.
                """
                CREATE TABLE hourly_packed (
                    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                    hour timestamptz NOT NULL,
                    metrics text[] NOT NULL,
                    counts bigint[] NOT NULL,
                    PRIMARY KEY (account_id, hour),
                    CHECK (cardinality(metrics) = cardinality(counts))
                )
                """,
                "DROP INDEX hourly_counts_unfolded",
                "CREATE INDEX hourly_counts_hour ON hourly_counts (hour)",
            ]),
        Migration(
            version: 28, name: "a claim that keeps its plans and tells which jobs are in a sequence",
            statements: [
                // Issue 17: as a SQL function the claim was parsed and planned at every call, a quarter of PostgreSQL's
                // time in a no-op drain. The same statements in PL/pgSQL keep their plans per connection (the settings
                // that pin the plan still apply when the cached plan is made). It also returns whether each job has a
                // serialization key: a claim loop waits for such a job's deletion before it claims again, so the next
                // job of that conversation is not overtaken. A new name, so replicas of the previous version keep
                // calling flowtalk_claim (migration 9) during a rolling upgrade.
                """
                CREATE FUNCTION flowtalk_claim_batch(p_kinds text[], p_limit integer, p_worker text, p_lease_ms bigint, p_lease uuid)
                RETURNS TABLE (id bigint, kind text, payload bytea, attempts integer, max_attempts integer, wait float8, in_sequence boolean)
                LANGUAGE plpgsql VOLATILE
                SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off SET jit = off
                AS $$
                #variable_conflict use_column
                BEGIN
                    UPDATE jobs SET state = 'available'
                    WHERE jobs.id = ANY (ARRAY(SELECT s.id FROM jobs s WHERE s.state = 'scheduled' AND s.run_at <= now()
                                               ORDER BY s.run_at LIMIT 1000 FOR UPDATE SKIP LOCKED));
                    RETURN QUERY
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
                              GREATEST(0, EXTRACT(EPOCH FROM now() - GREATEST(jobs.created_at, jobs.run_at)))::float8,
                              jobs.serialization_key IS NOT NULL;
                END
                $$
                """,
            ]),
        Migration(
            version: 29, name: "a packed hour's list of names by its hash, and its counts as bytes",
            statements: [
                // Issue 17: the statistics read a packed hour's counts with the hash of its list of names, and each list
                // once, so they neither compare nor order the rows' arrays (90 days: 2,158 rows of ~40 names); and the
                // counts as one bytea of big-endian 64-bit integers in the order of the names, which PostgreSQL sends as
                // they are (a bigint[] is sent through a function call per element). `metrics` and `counts` stay what
                // everything else reads and writes; the trigger derives both columns from them on every write, whoever
                // writes (a replica of the previous version merging a late count included). Rows packed before have
                // neither until analytics' hourly job rewrites them; readers hash them and make their bytes as they
                // read. Nullable and without a default, so
                // adding them does not rewrite the table; the check (NOT VALID: no scan) holds for every row written
                // from now on.
                "ALTER TABLE hourly_packed ADD COLUMN names_hash bigint, ADD COLUMN counts_bytes bytea",
                """
                ALTER TABLE hourly_packed ADD CONSTRAINT hourly_packed_counts_bytes
                    CHECK (counts_bytes IS NULL OR length(counts_bytes) = 8 * cardinality(counts)) NOT VALID
                """,
                """
                CREATE FUNCTION flowtalk_hourly_packed_derive() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    NEW.names_hash := hash_array_extended(NEW.metrics, 0);
                    NEW.counts_bytes := coalesce((SELECT string_agg(int8send(c), ''::bytea ORDER BY i)
                                                  FROM unnest(NEW.counts) WITH ORDINALITY AS u(c, i)), ''::bytea);
                    RETURN NEW;
                END
                $$
                """,
                """
                CREATE TRIGGER hourly_packed_derive BEFORE INSERT OR UPDATE OF metrics, counts ON hourly_packed
                FOR EACH ROW EXECUTE FUNCTION flowtalk_hourly_packed_derive()
                """,
                // The rows packed before, which analytics' hourly job rewrites batch by batch (the trigger fills them
                // in): found by this index, empty once they are done and from then on (built here, in one scan).
                "CREATE INDEX hourly_packed_underived ON hourly_packed (hour) WHERE names_hash IS NULL OR counts_bytes IS NULL",
            ]),
    ]
}
