import Foundation

/// Every path of leafguard's state folder (leafguard.yml's `state:`), named once: no module
/// concatenates state paths of its own. The folder is the leafguard user's alone (0700).
public struct StateLayout: Sendable, Equatable {
    /// The state folder.
    public let root: String

    /// The layout of the state folder `root`.
    public init(_ root: String) { self.root = root }

    func path(_ relative: String) -> String { root + "/" + relative }

    /// The run catalog (SQLite): run history and schedule state.
    public var catalog: String { path("catalog.db") }
    /// When `tick` last ran (ISO 8601 text), for the posture report and metrics.
    public var tickFile: String { path("tick-last") }
    /// Job and run lock files.
    public var locks: String { path("locks") }
    /// Scratch space: database copies, restores a drill or a diff reads; removed after use.
    public var scratch: String { path("tmp") }
    /// Which repository this state belongs to.
    public var repositoryID: String { path("repository-id") }
    /// Present while a backup into `region` runs: a killed run leaves it for the next to see.
    public func backupMarker(_ region: String) -> String { path("backup-running-\(region)") }
    /// When each pack of `region` was last read whole (pack id → Unix time), JSON.
    public func verifyLedger(_ region: String) -> String { path("verify-\(region).json") }
    /// The restore drills' history, one JSON object per line.
    public var drillHistory: String { path("drills/history.jsonl") }
    /// Folder of the newest signed head of each region.
    public var heads: String { path("heads") }
    /// The newest signed head of `region` this host wrote or read.
    public func head(_ region: String) -> String { path("heads/" + region) }
    /// Key material: the keyring, passphrase parameters, the audit public key, an unfinished rotation.
    public var keys: String { path("keys") }
    /// The keyring (wrapped key versions and the audit seed).
    public var keyring: String { path("keys/keyring.json") }
    /// KMS's ciphertext of an `aws-kms:` keyring key, until the keyring (which then holds it) is saved.
    public var kmsKeyringKey: String { path("keys/kms.json") }
    /// Argon2id parameters of a passphrase master key.
    public var passphraseParameters: String { path("keys/passphrase.json") }
    /// A key rotation in progress, so that a killed one is finished.
    public var rotation: String { path("keys/rotation.json") }
    /// The audit signing public key, for people and auditors.
    public var auditPublicKey: String { path("keys/audit-signing.pub") }
    /// The audit folder: the log, checkpoints, activity seals.
    public var audit: String { path("audit") }
    /// The audit log (JSON lines, hash-chained).
    public var auditLog: String { path("audit/audit.log") }
    /// Sealed activity-log ranges.
    public var activitySeals: String { path("audit/activity") }
    /// What commands learned of the deployment for the metrics file (regions, keys, posture, scans).
    public var metricsFacts: String { path("metrics-facts.json") }
    /// The metrics text file when leafguard.yml names none.
    public var defaultMetricsFile: String { path("metrics/leafguard.prom") }
}
