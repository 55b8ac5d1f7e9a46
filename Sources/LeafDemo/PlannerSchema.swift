/// The planner data contract (shared/planner/schema.sql), as the demo creates it. A test
/// checks this copy against the shared file so the two cannot drift apart.
public enum PlannerSchema {
    /// The schema's SQL, run as one script on a new planner.db.
    public static let sql = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE password_policies (
          version        INTEGER PRIMARY KEY,
          min_length     INTEGER NOT NULL,
          require_lower  INTEGER NOT NULL,
          require_upper  INTEGER NOT NULL,
          require_digit  INTEGER NOT NULL,
          require_symbol INTEGER NOT NULL,
          effective_at   TEXT    NOT NULL
        );
        CREATE TABLE accounts (
          id          INTEGER PRIMARY KEY,
          name        TEXT    NOT NULL,
          plan        TEXT    NOT NULL CHECK (plan IN ('individual', 'family', 'advisor')),
          require_mfa INTEGER NOT NULL DEFAULT 0,
          created_at  TEXT    NOT NULL
        );
        CREATE TABLE users (
          id            INTEGER PRIMARY KEY,
          email         TEXT NOT NULL UNIQUE,
          status        TEXT NOT NULL CHECK (status IN ('active', 'invited', 'disabled')),
          created_at    TEXT NOT NULL,
          last_login_at TEXT
        );
        CREATE TABLE memberships (
          account_id INTEGER NOT NULL REFERENCES accounts(id),
          user_id    INTEGER NOT NULL REFERENCES users(id),
          role       TEXT    NOT NULL CHECK (role IN ('owner', 'co-owner', 'editor', 'viewer', 'executor')),
          granted_by INTEGER REFERENCES users(id),
          granted_at TEXT    NOT NULL,
          PRIMARY KEY (account_id, user_id)
        );
        CREATE TABLE grants (
          account_id INTEGER NOT NULL REFERENCES accounts(id),
          user_id    INTEGER NOT NULL REFERENCES users(id),
          section    TEXT    NOT NULL CHECK (section IN ('finances', 'insurance', 'legal', 'medical',
                                                         'property', 'contacts', 'wishes', 'digital')),
          access     TEXT    NOT NULL CHECK (access IN ('read', 'write')),
          PRIMARY KEY (account_id, user_id, section)
        );
        CREATE TABLE credentials (
          user_id         INTEGER PRIMARY KEY REFERENCES users(id),
          password_hash   TEXT    NOT NULL,
          password_set_at TEXT    NOT NULL,
          policy_version  INTEGER NOT NULL REFERENCES password_policies(version)
        );
        CREATE TABLE mfa_factors (
          id          INTEGER PRIMARY KEY,
          user_id     INTEGER NOT NULL REFERENCES users(id),
          kind        TEXT    NOT NULL CHECK (kind IN ('totp', 'webauthn', 'sms', 'recovery_codes')),
          created_at  TEXT    NOT NULL,
          verified_at TEXT,
          disabled_at TEXT
        );
        CREATE TABLE entries (
          id         INTEGER PRIMARY KEY,
          account_id INTEGER NOT NULL REFERENCES accounts(id),
          section    TEXT    NOT NULL,
          title      TEXT    NOT NULL,
          body       TEXT    NOT NULL,
          updated_by INTEGER REFERENCES users(id),
          updated_at TEXT    NOT NULL
        );
        CREATE TABLE documents (
          id          INTEGER PRIMARY KEY,
          account_id  INTEGER NOT NULL REFERENCES accounts(id),
          section     TEXT    NOT NULL,
          file_name   TEXT    NOT NULL,
          blob_path   TEXT    NOT NULL UNIQUE,
          size        INTEGER NOT NULL,
          sha256      TEXT    NOT NULL,
          uploaded_by INTEGER REFERENCES users(id),
          uploaded_at TEXT    NOT NULL
        );
        CREATE TABLE activity_log (
          id         INTEGER PRIMARY KEY,
          at         TEXT NOT NULL,
          actor_id   INTEGER REFERENCES users(id),
          account_id INTEGER REFERENCES accounts(id),
          action     TEXT NOT NULL,
          target     TEXT,
          ip         TEXT,
          detail     TEXT
        );
        CREATE INDEX memberships_user ON memberships(user_id);
        CREATE INDEX mfa_factors_user ON mfa_factors(user_id);
        CREATE INDEX entries_account ON entries(account_id);
        CREATE INDEX documents_account ON documents(account_id);
        CREATE INDEX activity_log_account ON activity_log(account_id, at);
        """

    /// Table names in the contract, for checks.
    public static let tables = [
        "password_policies", "accounts", "users", "memberships", "grants", "credentials",
        "mfa_factors", "entries", "documents", "activity_log",
    ]
}
