/// Flowtalk's schema, in order. Never edit a migration that has shipped; add a new one.
package enum FlowtalkMigrations {
    package static let all: [Migration] = [
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
    ]
}
