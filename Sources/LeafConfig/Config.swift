import Foundation
import LeafCompliance
import LeafFiles
// StepResult, RunOutcome and the state folder's layout: every module that reads a
// configuration reads them too.
@_exported import LeafState
import LeafTime

/// Where the master key comes from (`keys.master`).
public enum KeySource: Sendable, Equatable, CustomStringConvertible {
    /// A file holding 32 raw bytes or their base64; must be mode 0600 or stricter.
    case file(path: String)
    /// An environment variable holding the base64 of 32 bytes.
    case environment(variable: String)
    /// An environment variable holding a passphrase, stretched with Argon2id.
    case passphraseEnvironment(variable: String)
    /// A data key of this AWS KMS key (an id, ARN or `alias/NAME`), made once by KMS and
    /// kept only as KMS's ciphertext: no key is stored on the host (`keys.kms` says where KMS is).
    case awsKMS(keyID: String)

    /// How `keys.master` writes it: `file:PATH`, `env:VAR` or `passphrase-env:VAR`.
    public var description: String {
        switch self {
        case .file(let p): return "file:\(p)"
        case .environment(let v): return "env:\(v)"
        case .passphraseEnvironment(let v): return "passphrase-env:\(v)"
        case .awsKMS(let k): return "aws-kms:\(k)"
        }
    }
}

/// Where AWS KMS is, for an `aws-kms:` master key (`keys.kms`).
public struct KMSSettings: Sendable, Equatable {
    /// The key's AWS region.
    public let region: String
    /// Another endpoint than AWS's (a server on loopback, for tests).
    public let endpoint: URL?
    /// A profile of the shared credentials file; nil: the environment's credentials.
    public let profile: String?
    /// Settings with the given parts.
    public init(region: String, endpoint: URL?, profile: String?) { self.region = region; self.endpoint = endpoint; self.profile = profile }
}

/// Data + parity shards for erasure coding.
public struct ShardLayout: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Shards that hold the pack's bytes.
    public let data: Int
    /// Shards computed from them; any `parity` shards of a pack may be lost.
    public let parity: Int
    /// `data` data shards and `parity` parity shards.
    public init(data: Int, parity: Int) { self.data = data; self.parity = parity }
    /// Shards per pack, one per location: a region needs at least this many locations.
    public var total: Int { data + parity }
    /// `data+parity`, as the configuration writes it.
    public var description: String { "\(data)+\(parity)" }
}

/// How a region stores objects.
public enum RegionBackend: Sendable, Equatable {
    /// Folders on a local or mounted file system, one per location.
    case local(path: String)
    /// S3 or an S3-compatible server.
    case s3(S3Settings)
}

/// Where an S3 region's locations are and how to reach them.
public struct S3Settings: Sendable, Equatable {
    /// nil: AWS's endpoint for `region`.
    public var endpoint: String?
    /// The AWS region requests are signed for (`us-east-1`, …).
    public var region: String
    /// One bucket per location, or one bucket holding every location under `loc<i>/`.
    public var buckets: [String]
    /// Put before each location's prefix.
    public var prefix: String
    /// Path-style addressing (`endpoint/bucket/key`), for S3-compatible servers.
    public var pathStyle: Bool
    /// `env` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or a profile of
    /// the shared credentials file.
    public var profile: String?

    /// Bucket and key prefix of location `i`.
    public func location(_ i: Int) -> (bucket: String, prefix: String) {
        buckets.count == 1 ? (buckets[0], prefix + "loc\(i)/") : (buckets[i], prefix)
    }
}

/// One storage region (the primary, the backup) split into independent locations.
public struct RegionConfig: Sendable, Equatable {
    /// The region's name (`primary`, `backup`, …), as commands and reports name it.
    public let name: String
    /// Where its objects live.
    public let backend: RegionBackend
    /// How many independent locations it has (folders or buckets).
    public let locations: Int
}

/// leafguard.yml, with every path made absolute against the file's folder.
public struct LeafguardConfig: Sendable {
    /// The configuration file itself.
    public let file: String
    /// The planner's data folder: `planner.db` and the documents it names.
    public let dataDirectory: String
    /// The state folder (0700): keyring copy, run catalog, audit log, locks, scratch space.
    public let stateDirectory: String
    /// Where the master key comes from.
    public let masterKey: KeySource
    /// Regions in file order; the first named `primary` (or else the first) is where backups go.
    public let regions: [RegionConfig]
    /// How each pack is split into shards.
    public let shards: ShardLayout
    /// The folder of job files.
    public let jobsDirectory: String
    /// Runs kept in the catalog per job (`history.keep`); older ones are pruned.
    public var historyLimit: Int = 500
    /// The Prometheus text file rewritten after every run (`metrics.textfile`).
    public var metricsFile: String = ""
    /// Thresholds of the posture report (`posture:`).
    public var posture = PostureThresholds()
    /// Rule thresholds and accepted risks (`compliance:`).
    public var complianceSettings = ComplianceSettings()
    /// Accepted risks: findings they cover are reported as excepted until they expire.
    public var complianceExceptions: [ComplianceException] = []
    /// The keep rules `leafguard prune` applies when given none (`retention:`, the prune
    /// step's rules: keep_last, keep_daily, …, and timezone); empty when leafguard.yml sets none.
    public var retention: [String: String] = [:]
    /// Whether this deployment is a copy made for drills (`drill_copy: true`): only then may
    /// `run` and `tick` take `--now`, which dates runs and snapshots by another clock than the
    /// host's (a production deployment's 'latest' and recovery point must not be skewed so).
    public var drillCopy = false

    /// The region called `name`, if the configuration has one.
    public func region(named name: String) -> RegionConfig? { regions.first { $0.name == name } }
    /// Every region's name, in file order.
    public var regionNames: [String] { regions.map(\.name) }
    /// Where AWS KMS is, for an `aws-kms:` master key (`keys.kms`).
    public var kms: KMSSettings?
    /// The state folder's paths.
    public var state: StateLayout { StateLayout(stateDirectory) }
    /// The region backups go to: the one named `primary`, else the first.
    public var primaryRegion: RegionConfig { region(named: "primary") ?? regions[0] }
}

/// Finds and reads leafguard.yml.
public enum ConfigLoader {
    /// The environment variable naming the configuration file.
    public static let environmentVariable = "LEAFGUARD_CONFIG"
    /// The file looked for in the working folder when nothing names one.
    public static let defaultFileName = "leafguard.yml"

    /// `--config FILE`, else `$LEAFGUARD_CONFIG`, else `./leafguard.yml`.
    public static func locate(
        explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) throws -> String {
        if let explicit { return absolute(explicit, relativeTo: currentDirectory) }
        if let env = environment[environmentVariable], !env.isEmpty { return absolute(env, relativeTo: currentDirectory) }
        let local = absolute(defaultFileName, relativeTo: currentDirectory)
        guard FileManager.default.fileExists(atPath: local) else {
            throw ConfigurationError(
                file: local, message: "no configuration file found",
                hint: "pass --config FILE, set \(environmentVariable), or run 'leafguard demo' to create a sample deployment")
        }
        return local
    }

    /// Loads and validates a configuration file. Throws `ConfigurationError` listing every problem.
    public static func load(path: String) throws -> LeafguardConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw ConfigurationError(
                file: path, message: exists ? "cannot read the configuration file" : "configuration file does not exist",
                hint: exists ? "check its permissions" : "pass --config FILE or set \(environmentVariable)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, message: "the file is not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    /// Parses configuration text; relative paths resolve against `file`'s folder.
    public static func parse(_ text: String, file: String) throws -> LeafguardConfig {
        let diagnostics = Diagnostics()
        let base = (file as NSString).deletingLastPathComponent
        guard let root = parseYAML(text, file: file, diagnostics: diagnostics), let top = root.mapping() else {
            try diagnostics.throwIfAny()
            throw ConfigurationError(file: file, message: "the configuration must be a mapping")
        }
        let dataDir = top.required("data", hint: "the planner data directory, e.g. 'data: planner-data'")?.string()
        let stateDir = top.required("state", hint: "leafguard's own folder, e.g. 'state: state'")?.string()
        let jobsDir = top["jobs"]?.string() ?? "jobs"

        var masterKey: KeySource?
        var kms: KMSSettings?
        if let keys = top.required("keys")?.mapping() {
            if let master = keys.required("master", hint: "file:PATH, env:VAR, passphrase-env:VAR or aws-kms:KEY")?.string(), let value = keys["master"] {
                masterKey = parseKeySource(master, base: base, value: value)
            }
            if let k = keys["kms"]?.mapping() {
                let region = k.required("region", hint: "the AWS region of the KMS key, e.g. eu-west-1")?.string()
                var endpoint: URL?
                if let v = k["endpoint"], let text = v.string() {
                    endpoint = URL(string: text)
                    if endpoint?.scheme != "https" && endpoint?.scheme != "http" { v.report("keys.kms.endpoint '\(text)' is not an http(s) URL") }
                }
                let profile = k["profile"]?.string()
                if let region { kms = KMSSettings(region: region, endpoint: endpoint, profile: profile) }
                k.finish()
            }
            if case .awsKMS = masterKey, kms == nil, let value = keys["master"] {
                value.report(
                    "an aws-kms master key needs keys.kms: {region: …}", hint: "e.g. keys: {master: aws-kms:alias/leafguard, kms: {region: eu-west-1}}")
            }
            keys.finish()
        }

        var regions: [RegionConfig] = []
        if let regionsMap = top.required("regions", hint: "at least 'primary: { backend: local, path: regions/primary, locations: 6 }'")?.mapping() {
            for (name, value) in regionsMap.entries {
                regionsMap.allow([name])
                if let r = parseRegion(name: name, value: value, base: base) { regions.append(r) }
            }
            if regionsMap.keys.isEmpty { regionsMap.value.report("regions is empty", hint: "define at least a 'primary' region") }
            regionsMap.finish()
        }

        var shards = ShardLayout(data: 4, parity: 2)
        if let s = top["shards"]?.mapping() {
            let d = s.required("data")?.int(in: 1...32)
            let p = s.required("parity")?.int(in: 0...32)
            if let d, let p { shards = ShardLayout(data: d, parity: p) }
            s.finish()
        }
        var historyLimit = 500
        if let h = top["history"]?.mapping() {
            if let n = h["keep"]?.int(in: 1...1_000_000) { historyLimit = n }
            h.finish()
        }
        var metricsFile: String?
        if let m = top["metrics"]?.mapping() {
            metricsFile = m["textfile"]?.string()
            m.finish()
        }
        var complianceSettings = ComplianceSettings()
        var exceptions: [ComplianceException] = []
        if let c = top["compliance"]?.mapping() {
            if let v = c["argon2_min_memory_kib"]?.int(in: 1...4_194_304) { complianceSettings.argon2MinMemoryKiB = v }
            if let v = c["argon2_min_iterations"]?.int(in: 1...100) { complianceSettings.argon2MinIterations = v }
            if let v = c["bcrypt_min_cost"]?.int(in: 4...31) { complianceSettings.bcryptMinCost = v }
            if let v = c["dormancy_days"]?.int(in: 1...36500) { complianceSettings.dormancyDays = v }
            if let list = c["exceptions"]?.sequence() { exceptions = list.compactMap(parseException) }
            c.finish()
        }
        let drillCopy = top["drill_copy"]?.bool() ?? false
        var retention: [String: String] = [:]
        if let r = top["retention"]?.mapping() {
            for rule in ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"] {
                if let n = r[rule]?.int(in: 0...100_000) { retention[rule] = String(n) }
            }
            if let zone = r["timezone"]?.string() {
                if TimeZone(identifier: zone) == nil {
                    r["timezone"]?.report("unknown time zone '\(zone)'", hint: "an IANA name such as UTC or Europe/London")
                } else {
                    retention["timezone"] = zone
                }
            }
            r.finish()
        }
        var posture = PostureThresholds()
        if let p = top["posture"]?.mapping() {
            func hours(_ key: String) -> Double? { p[key]?.int(in: 1...100_000).map(Double.init) }
            if let v = hours("recovery_point_warn_hours") { posture.recoveryPointWarnHours = v }
            if let v = hours("recovery_point_fail_hours") { posture.recoveryPointFailHours = v }
            if let v = hours("replication_lag_fail_hours") { posture.replicationLagFailHours = v }
            if let v = hours("drill_max_age_days") { posture.drillMaxAgeDays = v }
            if let v = hours("recovery_time_warn_minutes") { posture.recoveryTimeWarnMinutes = v }
            if let v = hours("key_rotation_days") { posture.keyRotationDays = v }
            if let v = hours("scan_max_age_hours") { posture.scanMaxAgeHours = v }
            if let v = hours("seal_max_age_hours") { posture.sealMaxAgeHours = v }
            if let v = hours("verify_coverage_days") { posture.verifyCoverageDays = v }
            if let v = hours("period_days") { posture.periodDays = v }
            p.finish()
        }
        for r in regions where r.locations < shards.total {
            top["regions"]?.report(
                "region '\(r.name)' has \(r.locations) locations but shards need \(shards.total) (\(shards))",
                hint: "use at least \(shards.total) locations so that each shard of a pack lands in a different one")
        }
        top.finish()
        if !diagnostics.isEmpty {
            // What could be read still checks job files against (`jobs validate` reports both).
            var error = ConfigurationError(diagnostics.problems)
            error.salvaged = LeafguardConfig(
                file: file, dataDirectory: absolute(dataDir ?? ".", relativeTo: base),
                stateDirectory: absolute(stateDir ?? ".", relativeTo: base), masterKey: masterKey ?? .file(path: ""),
                regions: regions, shards: shards, jobsDirectory: absolute(jobsDir, relativeTo: base))
            throw error
        }
        guard let dataDir, let stateDir, let masterKey, !regions.isEmpty else {
            throw ConfigurationError(file: file, message: "incomplete configuration")
        }
        var config = LeafguardConfig(
            file: file, dataDirectory: absolute(dataDir, relativeTo: base),
            stateDirectory: absolute(stateDir, relativeTo: base), masterKey: masterKey,
            regions: regions, shards: shards, jobsDirectory: absolute(jobsDir, relativeTo: base))
        config.historyLimit = historyLimit
        config.metricsFile = metricsFile.map { absolute($0, relativeTo: base) } ?? config.state.defaultMetricsFile
        config.complianceSettings = complianceSettings
        config.complianceExceptions = exceptions
        config.posture = posture
        config.retention = retention
        config.drillCopy = drillCopy
        config.kms = kms
        return config
    }

    /// `{rule: MFA-OWNER, account: 12, user: 34, owner: "…", reason: "…", expires: 2027-03-31}`.
    static func parseException(_ value: YAMLValue) -> ComplianceException? {
        guard let m = value.mapping() else { return nil }
        let rules = ComplianceRule.allCases.map(\.rawValue)
        let rule = m.required("rule", hint: "one of \(rules.joined(separator: ", "))")?.choice(rules)
        let account = m["account"]?.int(in: 1...Int.max)
        let user = m.required("user", hint: "the user id the exception covers")?.int(in: 1...Int.max)
        let owner = m.required("owner", hint: "who accepted the risk")?.string()
        let reason = m.required("reason", hint: "why the risk is accepted")?.string()
        var expires: Date?
        if let v = m.required("expires", hint: "a date such as 2027-03-31; exceptions must end"), let text = v.string() {
            expires = Timestamp.parseInstantOrDay(text)
            if expires == nil { v.report("'\(text)' is not a date", hint: "write 2027-03-31 or 2027-03-31T00:00:00Z") }
        }
        m.finish()
        guard let rule, let user, let owner, let reason, let expires else { return nil }
        return ComplianceException(rule: rule, accountID: account.map(Int64.init), userID: Int64(user), owner: owner, reason: reason, expires: expires)
    }

    static func parseKeySource(_ text: String, base: String, value: YAMLValue) -> KeySource? {
        if text.hasPrefix("file:") {
            let path = absolute(String(text.dropFirst(5)), relativeTo: base)
            checkKeyFile(path, value: value)
            return .file(path: path)
        }
        if text.hasPrefix("env:") { return .environment(variable: String(text.dropFirst(4))) }
        if text.hasPrefix("passphrase-env:") { return .passphraseEnvironment(variable: String(text.dropFirst(15))) }
        if text.hasPrefix("aws-kms:"), text.count > 8 { return .awsKMS(keyID: String(text.dropFirst(8))) }
        value.report(
            "keys.master '\(text)' names no key source", hint: "valid: file:PATH, env:VAR (base64 of 32 bytes), passphrase-env:VAR, aws-kms:KEY_ID_ARN_OR_ALIAS"
        )
        return nil
    }

    /// A key file must exist, be readable, hold a 32-byte key, and be readable by its owner only.
    static func checkKeyFile(_ path: String, value: YAMLValue) {
        let fm = FileManager.default
        guard fm.fileExists(atPath: path) else {
            value.report("key file \(path) does not exist", hint: "create one with 'leafguard keys init' or point keys.master at an existing key")
            return
        }
        guard fm.isReadableFile(atPath: path), let handle = FileHandle(forReadingAtPath: path) else {
            value.report("key file \(path) is not readable", hint: "run leafguard as the key file's owner")
            return
        }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.close()
        if size != 32 && size != 44 && size != 45 {
            value.report("key file \(path) holds \(size) bytes, not a key", hint: "a key file holds 32 raw bytes or their base64 (44 characters)")
        }
        if let attrs = try? fm.attributesOfItem(atPath: path), let mode = attrs[.posixPermissions] as? Int, mode & 0o077 != 0 {
            value.report("key file \(path) has mode \(String(mode, radix: 8)), readable by others", hint: "run 'chmod 600 \(path)'")
        }
    }

    /// 127.0.0.0/8, ::1 and localhost: the only hosts plain HTTP goes to by default.
    static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if h == "localhost" || h == "::1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    static func parseRegion(name: String, value: YAMLValue, base: String) -> RegionConfig? {
        guard let m = value.mapping() else { return nil }
        let backend = m.required("backend", hint: "valid: local, s3")?.choice(["local", "s3"])
        let locations = m["locations"]?.int(in: 1...256) ?? 6
        if backend == "s3" { return parseS3Region(name: name, m, locations: locations) }
        let path = m.required("path")?.string()
        m.finish()
        guard backend != nil, let path else { return nil }
        return RegionConfig(name: name, backend: .local(path: absolute(path, relativeTo: base)), locations: locations)
    }

    /// `backend: s3` with `region`, `bucket` (locations as `loc<i>/` prefixes) or `buckets`
    /// (one per location), and optional `endpoint`, `prefix`, `addressing` and `credentials`.
    static func parseS3Region(name: String, _ m: MappingReader, locations: Int) -> RegionConfig? {
        let region = m.required("region", hint: "the AWS region, e.g. eu-west-1 (any name for an S3-compatible server)")?.string()
        let endpoint = m["endpoint"]?.string()
        if let e = endpoint, URL(string: e)?.scheme.map({ ["http", "https"].contains($0) }) != true {
            m["endpoint"]?.report("endpoint '\(e)' is not an http or https URL", hint: "e.g. https://s3.example.com or http://127.0.0.1:9000")
        }
        // Plain HTTP shows every request, the session token included, to anyone on the path,
        // and lets them replay it: only to this machine, or where the region says so.
        let allowPlain = m["allow_plain_http"]?.bool() ?? false
        if let e = endpoint, let url = URL(string: e), url.scheme == "http", !allowPlain, !isLoopback(url.host ?? "") {
            m["endpoint"]?.report(
                "endpoint '\(e)' is plain HTTP to another host: anyone on the path can read and replay the signed requests",
                hint: "use https, or set 'allow_plain_http: true' on the region if the path is trusted (unsafe)")
        }
        var buckets: [String] = []
        if let b = m["bucket"]?.string() { buckets = [b] }
        if let list = m["buckets"]?.sequence() {
            buckets = list.compactMap { $0.string() }
            if buckets.count != locations {
                m["buckets"]?.report(
                    "\(buckets.count) buckets for \(locations) locations",
                    hint: "one bucket per location, or 'bucket: NAME' for one bucket with a prefix per location")
            }
        }
        if buckets.isEmpty { m.value.report("region '\(name)' needs 'bucket: NAME' or 'buckets: [one per location]'") }
        let prefix = m["prefix"]?.string() ?? ""
        let addressing = m["addressing"]?.choice(["path", "virtual"]) ?? (endpoint == nil ? "virtual" : "path")
        var profile: String?
        if let c = m["credentials"]?.string() {
            if c.hasPrefix("profile:") {
                profile = String(c.dropFirst(8))
            } else if c != "env" {
                m["credentials"]?.report("credentials '\(c)' is not 'env' or 'profile:NAME'")
            }
        }
        m.finish()
        guard let region, !buckets.isEmpty, buckets.count == 1 || buckets.count == locations else { return nil }
        let settings = S3Settings(
            endpoint: endpoint, region: region, buckets: buckets,
            prefix: prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/",
            pathStyle: addressing == "path", profile: profile)
        return RegionConfig(name: name, backend: .s3(settings), locations: locations)
    }
}

/// Resolves `path` against `base` unless it is absolute; expands a leading `~`.
public func absolute(_ path: String, relativeTo base: String) -> String {
    // By the text alone: a target that is a link must still be one when `restore --to`,
    // `scan --out` or `reports get` check it; a relative base is the working folder's.
    lexicallyAbsolute(path, relativeTo: base)
}

/// When the posture report's verdicts turn to warn or fail (`posture:` in leafguard.yml).
public struct PostureThresholds: Sendable, Equatable {
    /// Age of the newest restorable snapshot (the nightly backup runs every 24 h).
    public var recoveryPointWarnHours = 25.0
    /// Age of the newest restorable snapshot past which the verdict is a failure.
    public var recoveryPointFailHours = 26.0
    /// How far the backup region's newest snapshot may trail the primary's.
    public var replicationLagFailHours = 26.0
    /// The last drill of each region; older is a warning, twice as old a failure.
    public var drillMaxAgeDays = 8.0
    /// A drill that took longer than this to restore is a warning.
    public var recoveryTimeWarnMinutes = 240.0
    /// Age of the active master key (quarterly rotation); older is a warning, 10 days more a failure.
    public var keyRotationDays = 92.0
    /// Age of the newest compliance scan past which the verdict is a warning.
    public var scanMaxAgeHours = 48.0
    /// Age of the newest activity seal past which the verdict is a warning.
    public var sealMaxAgeHours = 3.0
    /// Verification must have read every pack within this many days.
    public var verifyCoverageDays = 30.0
    /// The window for failed runs and missed schedules.
    public var periodDays = 7.0
    /// The defaults docs/configuration.md lists.
    public init() {}
}
