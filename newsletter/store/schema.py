"""The state's schema: one list of migrations for both engines, applied in order on open.

SQLite keeps the version in `PRAGMA user_version`, PostgreSQL in `paper_digest_schema`
(`postgres.py` also turns `BLOB` into `BYTEA` and gives `day_papers` SQLite's `rowid`). A
migration is only ever appended: a database written by a newer release is refused, never
modified.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: papers of each day, fetch outcomes, the HTTP cache, issues and the delivery log
    """
    CREATE TABLE papers (
        id TEXT PRIMARY KEY,            -- arXiv id without version, doi:..., or url:...
        version INTEGER,
        data TEXT NOT NULL,             -- the Paper as JSON
        first_seen TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE day_papers (
        day TEXT NOT NULL,              -- the announcement day, YYYY-MM-DD
        source TEXT NOT NULL,
        paper_id TEXT NOT NULL REFERENCES papers(id),
        PRIMARY KEY (day, source, paper_id)
    );
    CREATE INDEX day_papers_paper ON day_papers(paper_id);
    CREATE TABLE fetches (
        source TEXT NOT NULL,
        day TEXT NOT NULL,
        status TEXT NOT NULL,           -- ok | no_announcement | stale | failed
        detail TEXT NOT NULL DEFAULT '',
        papers INTEGER NOT NULL DEFAULT 0,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (source, day)
    );
    CREATE TABLE http_cache (
        url TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        body BLOB,
        fetched_at TEXT NOT NULL
    );
    CREATE TABLE issues (
        subscriber TEXT NOT NULL,       -- normalised email
        issue_date TEXT NOT NULL,
        subject TEXT NOT NULL,
        paper_ids TEXT NOT NULL,        -- JSON list, best first
        created_at TEXT NOT NULL,
        PRIMARY KEY (subscriber, issue_date)
    );
    CREATE TABLE deliveries (
        subscriber TEXT NOT NULL,
        issue_date TEXT NOT NULL,
        status TEXT NOT NULL,           -- pending | sending | sent | failed | deferred | in_doubt
        message_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (subscriber, issue_date)
    );
    CREATE TABLE delivered_papers (
        subscriber TEXT NOT NULL,
        paper_id TEXT NOT NULL,
        issue_date TEXT NOT NULL,
        PRIMARY KEY (subscriber, paper_id)
    );
    """,
    # 2: who is sending a delivery (so a crashed sender is told from a live one) and its papers
    """
    ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
    ALTER TABLE deliveries ADD COLUMN paper_ids TEXT
    """,
    # 3: whether the message was handed to the server (a cut-off attempt before that is resent);
    # alerts already sent to the operator (one per problem)
    """
    ALTER TABLE deliveries ADD COLUMN handed_over INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE deliveries ADD COLUMN horizon INTEGER;  -- the papers stored when it was built
    CREATE TABLE alerts (
        key TEXT PRIMARY KEY,
        sent_at TEXT NOT NULL
    );
    CREATE INDEX deliveries_sent ON deliveries(subscriber, status, issue_date);
    CREATE INDEX delivered_papers_paper ON delivered_papers(paper_id)
    """,
    # 4: where an issue was delivered (smtp://host:port, file:///outbox ...): a change of
    # target must not count a trial run to a folder as the reader's mail
    """
    ALTER TABLE deliveries ADD COLUMN target TEXT
    """,
    # 5: what readers said: unsubscribed (bounced, complained) readers, their ratings of papers,
    # and each issue's picks with their scores and reasons, for the issue on the web
    """
    CREATE TABLE suppressions (
        subscriber TEXT PRIMARY KEY,
        status TEXT NOT NULL,           -- unsubscribed | bounced | complained
        reason TEXT NOT NULL,
        source TEXT NOT NULL,           -- web | header | operator | mail | smtp
        since TEXT NOT NULL
    );
    CREATE TABLE feedback (
        subscriber TEXT NOT NULL,
        paper_id TEXT NOT NULL,
        vote INTEGER NOT NULL,          -- +1 more like this, -1 less like this
        issue_date TEXT,                -- the issue the rating came from
        rated_at TEXT NOT NULL,
        PRIMARY KEY (subscriber, paper_id)
    );
    CREATE TABLE issue_picks (
        subscriber TEXT NOT NULL,
        issue_date TEXT NOT NULL,
        picks TEXT NOT NULL,            -- JSON [{"id", "score", "reasons"}], best first
        PRIMARY KEY (subscriber, issue_date)
    );
    CREATE TABLE bounces (
        subscriber TEXT NOT NULL,
        issue_date TEXT NOT NULL,       -- the issue that bounced: one count per date
        hard INTEGER NOT NULL,          -- 1: permanent (5xx), 0: temporary
        detail TEXT NOT NULL,
        bounced_at TEXT NOT NULL,
        PRIMARY KEY (subscriber, issue_date, hard)
    )
    """,
    # 6: leases, each held by one process and renewed while it lives: who leads the scheduler,
    # who reads a day's sources, which senders are alive (hosts sharing a PostgreSQL state
    # cannot see each other's processes, only whether their leases ran out)
    """
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,          -- scheduler | fetch:DAY | sender:CLAIMANT
        holder TEXT NOT NULL,           -- host:pid:random
        taken_at TEXT NOT NULL,
        expires_at TEXT NOT NULL        -- by the database's clock
    )
    """,
    # 7: sentence embeddings for the optional semantic ranking, by model: a paper's vector is
    # encoded once (again when its text changes), a reader's text's once until it changes
    """
    CREATE TABLE embeddings (
        model TEXT NOT NULL,            -- Embedder.model_id: the library and the model
        paper_id TEXT NOT NULL,         -- a paper's id, or text:HASH for a reader's text
        text_hash TEXT NOT NULL,        -- of the text encoded
        vector BLOB NOT NULL,           -- dim float32 numbers, little-endian
        dim INTEGER NOT NULL,
        PRIMARY KEY (model, paper_id)
    )
    """,
    # 8: when each kept embedding was last used, so that those of papers gone from the
    # listings, of readers' old texts and of a model no longer configured are let go
    """
    ALTER TABLE embeddings ADD COLUMN used_on TEXT NOT NULL DEFAULT '';  -- YYYY-MM-DD, UTC
    CREATE INDEX embeddings_used ON embeddings(used_on)
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """Split a migration script into statements (no statement in it contains a `;` literal)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]
