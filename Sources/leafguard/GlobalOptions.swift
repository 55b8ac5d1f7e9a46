import ArgumentParser
import Foundation
import LeafAudit
import LeafConcurrency
import LeafConfig
import LeafDeployment
import LeafJobs
import LeafRepository
import LeafScheduler
import Logging

/// Options every command that loads the configuration shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: $LEAFGUARD_CONFIG, else ./leafguard.yml).")
    var config: String?

    @Option(name: .long, help: "Log format on standard error: human or json.")
    var logFormat: String = "human"

    @Option(name: .long, help: "Least severe log level shown: trace, debug, info, notice, warning, error.")
    var logLevel: String = "warning"

    func validate() throws {
        guard LogFormat(rawValue: logFormat) != nil else {
            throw ValidationError("--log-format must be 'human' or 'json', not '\(logFormat)'")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    /// Sets up logging and returns the logger commands use.
    func logger() -> Logger {
        LogSetup.bootstrap(format: LogFormat(rawValue: logFormat) ?? .human, level: Logger.Level(rawValue: logLevel) ?? .warning)
        return Logger(label: "leafguard")
    }

    /// Loads the configuration and opens a region's repository (default: primary).
    func openRegion(_ name: String?) throws -> (config: LeafguardConfig, region: String, repository: Repository) {
        _ = logger()
        let config = try loadConfig()
        let region = name ?? config.primaryRegion.name
        try checkRegion(region, in: config)
        return (config, region, try openDeployment(config).existingRepository(region))
    }

    /// Throws the configuration error (exit 2) naming the defined regions when `region` is none of them.
    func checkRegion(_ region: String, in config: LeafguardConfig) throws {
        guard config.region(named: region) == nil else { return }
        throw ConfigurationError(
            file: config.file, message: "region '\(region)' is not defined", hint: "defined: \(config.regionNames.joined(separator: ", "))")
    }

    /// Finds and loads the configuration; problems exit with status 2.
    func loadConfig() throws -> LeafguardConfig {
        let loaded = try ConfigLoader.load(path: try ConfigLoader.locate(explicit: config))
        // The state folder holds the keyring, the audit log and the run catalog: the
        // leafguard user's alone, whatever an older version or an installer left.
        try? FileManager.default.createDirectory(atPath: loaded.stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(loaded.stateDirectory, 0o700)
        return loaded
    }
}

/// Snapshots or indexes the region's signed head records but no location holds: a
/// warning on standard error (not a failure: what is there still restores). Returns the
/// missing snapshot ids.
@discardableResult
func warnAboutVanishedObjects(_ config: LeafguardConfig, _ repo: Repository, logger: Logger) -> [String] {
    let deployment = openDeployment(config)
    guard let seed = try? deployment.keyring().auditSeed, let signer = try? AuditSigner(seed: seed),
        let missing = RegionHeads(deployment: deployment, signer: signer).missing(in: repo, logger: logger)
    else { return [] }
    logger.warning(
        "objects have vanished from the region",
        metadata: [
            "region": "\(repo.region)", "problem": "\(missing.summary)",
            "next": "run 'leafguard verify --repair' (copies them back from another region; see docs/operations.md)",
        ])
    return missing.snapshots
}

/// Snapshots of the region no signed record accounts for (a compromised client's forgery):
/// a warning on standard error. Returns their ids (hex).
@discardableResult
func warnAboutUnrecordedSnapshots(_ config: LeafguardConfig, _ repo: Repository, logger: Logger) -> [String] {
    let unrecorded = openDeployment(config).unrecordedSnapshots(in: repo, logger: logger)
    guard !unrecorded.isEmpty else { return [] }
    logger.warning(
        "snapshots no signed record accounts for",
        metadata: [
            "region": "\(repo.region)", "snapshots": "\(unrecorded.map(RegionHeads.short).joined(separator: ", "))",
            "problem": "not in the region's signed head, not written by leafguard by the audit log: sealed by someone holding a data key",
            "next": "'restore latest' passes them by; see docs/keys.md (a leaked data key) and run 'leafguard verify'",
        ])
    return unrecorded
}

/// The process's deployment for `config`: a command is one process, and everything it
/// does (its own work, its audit entries, the warnings it prints) shares one derived master
/// key and one keyring.
func openDeployment(_ config: LeafguardConfig) -> Deployment {
    openDeployments.withLock { open in
        if let d = open[config.file] { return d }
        let d = Deployment(config: config)
        open[config.file] = d
        return d
    }
}

private let openDeployments = Locked<[String: Deployment]>([:])

/// Writes a location refused, within its region's tolerance, during a command that is no
/// job (a job's steps report their own): each logged as a warning naming the location.
/// True when there were any: the command did its work, with warnings (exit status 3).
func warnAboutRefusedWrites() -> Bool {
    let refused = openDeployments.withLock { $0.values.flatMap { $0.takeWriteProblems() } }
    for problem in refused {
        Logger(label: "leafguard").warning(
            "a location refused a write; verify --repair restores the copy once it takes writes", metadata: ["problem": "\(problem)"])
    }
    return !refused.isEmpty
}

/// After a command that learned something of the deployment (verify, restore, scan,
/// report): the regions' figures as its deployment now sees them (`learnRegions`), then the
/// metrics file rewritten with them, the run history and the scheduler's health.
func refreshMetrics(_ config: LeafguardConfig, learnRegions: Bool = true) {
    if learnRegions { openDeployment(config).learnFacts(coverageDays: config.posture.verifyCoverageDays) }
    RunSupervisor(config: config, logger: Logger(label: "leafguard")).writeMetrics(jobs: [])
}
