import GRDB
import KeelCore

/// Versioned schema. Migrations are append-only: a shipped migration is never edited.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1_pipeline") { db in
            let states = ItemStateSQL.list
            try db.execute(
                sql: """
                    CREATE TABLE work_items (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        tenant TEXT NOT NULL DEFAULT 'default',
                        repo TEXT NOT NULL,
                        title TEXT NOT NULL,
                        body TEXT NOT NULL,
                        acceptance TEXT,
                        state TEXT NOT NULL CHECK (state IN (\(states))),
                        attempt INTEGER NOT NULL DEFAULT 0,
                        parent_id INTEGER REFERENCES work_items(id),
                        budget_micros INTEGER,
                        spent_micros INTEGER NOT NULL DEFAULT 0,
                        created_at TEXT NOT NULL,
                        updated_at TEXT NOT NULL,
                        not_before TEXT,
                        branch TEXT,
                        head_sha TEXT,
                        lease_owner TEXT,
                        lease_token TEXT,
                        lease_expires_at TEXT
                    );
                    CREATE INDEX work_items_state ON work_items(state);
                    CREATE TABLE issue_dependencies (
                        item_id INTEGER NOT NULL REFERENCES work_items(id),
                        depends_on_id INTEGER NOT NULL REFERENCES work_items(id),
                        PRIMARY KEY (item_id, depends_on_id)
                    );
                    CREATE TABLE state_transitions (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        item_id INTEGER NOT NULL REFERENCES work_items(id),
                        from_state TEXT CHECK (from_state IS NULL OR from_state IN (\(states))),
                        to_state TEXT NOT NULL CHECK (to_state IN (\(states))),
                        reason TEXT NOT NULL,
                        actor TEXT NOT NULL,
                        at TEXT NOT NULL
                    );
                    CREATE INDEX state_transitions_item ON state_transitions(item_id, id);
                    CREATE TABLE agent_runs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        item_id INTEGER NOT NULL REFERENCES work_items(id),
                        attempt INTEGER NOT NULL,
                        stage TEXT NOT NULL,
                        agent TEXT NOT NULL,
                        command TEXT NOT NULL,
                        started_at TEXT NOT NULL,
                        ended_at TEXT,
                        exit_code INTEGER,
                        outcome TEXT,
                        transcript_path TEXT,
                        prompt_sha256 TEXT NOT NULL,
                        pid INTEGER
                    );
                    CREATE INDEX agent_runs_item ON agent_runs(item_id);
                    CREATE TABLE cost_events (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        run_id INTEGER REFERENCES agent_runs(id),
                        item_id INTEGER NOT NULL REFERENCES work_items(id),
                        tenant TEXT NOT NULL,
                        repo TEXT NOT NULL,
                        agent TEXT NOT NULL,
                        model TEXT,
                        turns INTEGER,
                        input_tokens INTEGER NOT NULL DEFAULT 0,
                        output_tokens INTEGER NOT NULL DEFAULT 0,
                        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
                        cache_write_tokens INTEGER NOT NULL DEFAULT 0,
                        cost_micros INTEGER NOT NULL,
                        at TEXT NOT NULL
                    );
                    CREATE INDEX cost_events_item ON cost_events(item_id);
                    CREATE TABLE item_history (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        item_id INTEGER NOT NULL REFERENCES work_items(id),
                        attempt INTEGER NOT NULL,
                        stage TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        signature TEXT,
                        summary TEXT NOT NULL,
                        detail TEXT NOT NULL DEFAULT '',
                        at TEXT NOT NULL
                    );
                    CREATE INDEX item_history_item ON item_history(item_id, id);
                    CREATE TABLE check_runs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        item_id INTEGER NOT NULL REFERENCES work_items(id),
                        head_sha TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        passed INTEGER NOT NULL,
                        output TEXT NOT NULL,
                        started_at TEXT NOT NULL,
                        ended_at TEXT NOT NULL
                    );
                    CREATE INDEX check_runs_item ON check_runs(item_id, head_sha, kind);
                    """
            )
        }
        migrator.registerMigration("v2_claim_index") { db in
            // Claims seek by (state, free or expired lease) and take the lowest id.
            try db.execute(sql: "CREATE INDEX work_items_claim ON work_items(state, lease_expires_at, id)")
        }
        migrator.registerMigration("v3_ledger") { db in
            try db.execute(
                sql: """
                    CREATE TABLE ledger_events (
                        seq INTEGER PRIMARY KEY,
                        event TEXT NOT NULL,
                        hash TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        subject TEXT,
                        at TEXT NOT NULL
                    );
                    CREATE INDEX ledger_events_kind ON ledger_events(kind, seq);
                    CREATE TABLE ledger_breaks (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        seq INTEGER,
                        kind TEXT NOT NULL,
                        expected TEXT NOT NULL DEFAULT '',
                        found TEXT NOT NULL DEFAULT '',
                        message TEXT NOT NULL,
                        fingerprint TEXT NOT NULL UNIQUE,
                        detected_at TEXT NOT NULL,
                        deadline TEXT NOT NULL,
                        detection_seq INTEGER,
                        decision TEXT CHECK (decision IS NULL OR decision IN ('validate', 'ignore', 'reject')),
                        decided_by TEXT,
                        decided_at TEXT,
                        note TEXT,
                        resolution_seq INTEGER,
                        timeout_seq INTEGER,
                        alerted_at TEXT
                    );
                    """)
        }
        migrator.registerMigration("v4_check_details") { db in
            // Each check's own state and output (JSON), so the gate can be re-evaluated after a restart.
            try db.execute(sql: "ALTER TABLE check_runs ADD COLUMN checks TEXT NOT NULL DEFAULT '[]'")
        }
        migrator.registerMigration("v5_budgets") { db in
            try db.execute(
                sql: """
                    -- What a live claim holds against the budgets until its run's actual cost replaces it.
                    -- A reservation counts only while its item still holds the lease it was made under.
                    CREATE TABLE budget_reservations (
                        item_id INTEGER PRIMARY KEY REFERENCES work_items(id),
                        lease_token TEXT NOT NULL,
                        tenant TEXT NOT NULL,
                        repo TEXT NOT NULL,
                        amount_micros INTEGER NOT NULL,
                        at TEXT NOT NULL
                    );
                    -- reported: the agent said what it cost; priced: from the pricing table; unpriced: neither.
                    ALTER TABLE cost_events ADD COLUMN cost_source TEXT NOT NULL DEFAULT 'reported';
                    CREATE INDEX cost_events_tenant ON cost_events(tenant, at);
                    CREATE INDEX cost_events_repo ON cost_events(repo, at);
                    """)
        }
        migrator.registerMigration("v6_escalations") { db in
            try db.execute(
                sql: """
                    -- One row per move to needs_human: 'sending' while one process delivers it (until the
                    -- time in `at`), then how it ended.
                    CREATE TABLE escalation_notices (
                        transition_id INTEGER PRIMARY KEY REFERENCES state_transitions(id),
                        item_id INTEGER NOT NULL REFERENCES work_items(id),
                        outcome TEXT NOT NULL CHECK (outcome IN ('sending', 'delivered', 'no_channel', 'superseded')),
                        channels TEXT NOT NULL DEFAULT '',
                        at TEXT NOT NULL
                    );
                    CREATE INDEX state_transitions_to ON state_transitions(to_state, id);
                    """)
        }
        migrator.registerMigration("v7_epics") { db in
            try db.execute(sql: "ALTER TABLE work_items ADD COLUMN epic INTEGER NOT NULL DEFAULT 0 CHECK (epic IN (0, 1))")
            try db.execute(sql: "CREATE INDEX work_items_parent ON work_items(parent_id)")
        }
        migrator.registerMigration("v8_break_evidence") { db in
            // A decision covers the bytes it was made on: each break records the event it was found
            // in, and its fingerprint includes them. The breaks recorded before this migration did
            // not keep those bytes; the event as it is now is the best record there is (a change
            // made between the decision and this upgrade cannot be told apart any more), and any
            // change from now on is a new break.
            try db.execute(sql: "ALTER TABLE ledger_breaks ADD COLUMN evidence TEXT")
            let rows = try Row.fetchAll(db, sql: "SELECT id, seq, kind, expected, found FROM ledger_breaks")
            for row in rows {
                let seq: Int64? = row["seq"]
                let evidence = try seq.flatMap { try LedgerAppender.evidence(db, at: $0) }
                let fingerprint = DetectedBreak.fingerprint(
                    kind: row["kind"], seq: seq, expected: row["expected"], found: row["found"], evidence: evidence)
                try db.execute(
                    sql: "UPDATE ledger_breaks SET evidence = ?, fingerprint = ? WHERE id = ?", arguments: [evidence, fingerprint, row["id"]])
            }
        }
        migrator.registerMigration("v9_item_heads") { db in
            // Every head Keel recorded for an item: a branch tip that is none of these is someone
            // else's commit, which no push of Keel's may overwrite.
            try db.execute(
                sql: """
                    CREATE TABLE item_heads (
                        item_id INTEGER NOT NULL REFERENCES work_items(id),
                        head_sha TEXT NOT NULL,
                        at TEXT NOT NULL,
                        PRIMARY KEY (item_id, head_sha)
                    ) WITHOUT ROWID;
                    INSERT INTO item_heads (item_id, head_sha, at) SELECT id, head_sha, updated_at FROM work_items WHERE head_sha IS NOT NULL;
                    """)
        }
        return migrator
    }

    /// The claimable states other than `queued`, as an SQL list.
    static let resumableStatesSQL = ItemState.claimable.filter { $0 != .queued }.map { "'\($0.rawValue)'" }.joined(separator: ", ")
}
