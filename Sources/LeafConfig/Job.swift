import Foundation
import LeafCron

/// The parameters of one step as written in a job file, with typed accessors that record
/// located problems. A step written bare (`- backup`) has an empty parameter mapping.
public struct StepParameters {
    /// The step's name as the job file writes it, for messages.
    public let stepName: String
    /// The configuration the job runs under (regions a step may name, for example).
    public let config: LeafguardConfig
    let mapping: MappingReader?
    let anchor: YAMLValue

    /// The value under `key`, or nil.
    public subscript(_ key: String) -> YAMLValue? { mapping?[key] }

    /// The value under `key`, recording a problem when missing.
    public func required(_ key: String, hint: String? = nil) -> YAMLValue? {
        if let mapping { return mapping.required(key, hint: hint) }
        anchor.report(
            "step '\(stepName)' needs the parameter '\(key)'",
            hint: hint.map { "\($0), e.g. '{\(stepName): {\(key): …}}'" }
                ?? "write it as '{\(stepName): {\(key): …}}'")
        return nil
    }

    /// A region name that must exist in leafguard.yml.
    public func region(_ key: String, default defaultValue: String? = nil, required: Bool = false) -> String? {
        let v = required ? self.required(key, hint: "a region: \(config.regionNames.joined(separator: ", "))") : self[key]
        guard let v else { return defaultValue }
        guard let name = v.string() else { return nil }
        guard config.region(named: name) != nil else {
            let guess = closest(to: name, in: config.regionNames).map { "did you mean '\($0)'? " } ?? ""
            v.report("region '\(name)' does not exist in \(config.file)", hint: "\(guess)defined regions: \(config.regionNames.joined(separator: ", "))")
            return nil
        }
        return name
    }

    /// A duration such as `90d`, `12h`, `30m`, `2w`, in seconds.
    public func duration(_ key: String) -> TimeInterval? {
        guard let v = self[key], let s = v.string() else { return nil }
        guard let d = parseDuration(s) else {
            v.report("'\(s)' is not a duration", hint: "write a number and a unit: 30m, 12h, 90d, 2w")
            return nil
        }
        return d
    }

    /// An output folder, resolved against the configuration file's folder.
    public func outputFolder(_ key: String = "out", default defaultPath: String) -> String {
        let base = (config.file as NSString).deletingLastPathComponent
        return absolute(self[key]?.string() ?? defaultPath, relativeTo: base)
    }

    /// A list drawn from `allowed` (all of them when absent); nil after a problem.
    public func formats(_ key: String = "formats", allowed: [String]) -> [String]? {
        guard let v = self[key] else { return allowed }
        guard let list = v.sequence() else { return nil }
        let chosen = list.compactMap { $0.choice(allowed) }
        return chosen.count == list.count ? chosen : nil
    }

    /// Records a problem at the step itself.
    public func report(_ message: String, hint: String? = nil) { anchor.report(message, hint: hint) }

    func finish() { mapping?.finish() }
}

/// Parses `30m`, `12h`, `90d`, `2w`, `45s`.
public func parseDuration(_ s: String) -> TimeInterval? {
    guard let unit = s.last, let n = Double(s.dropLast()), n >= 0 else { return nil }
    switch unit {
    case "s": return n
    case "m": return n * 60
    case "h": return n * 3600
    case "d": return n * 86400
    case "w": return n * 604800
    default: return nil
    }
}

/// A step type: its name in job files and how its parameters are read.
///
/// Adding a step to leafguard is one new type conforming to this (and, to run, to
/// `JobStep` in LeafJobs) plus its entry in the step catalog.
public protocol StepDefinition: Sendable {
    /// The name used in job files, e.g. `backup`.
    static var name: String { get }
    /// One line for `leafguard jobs steps` and error hints.
    static var summary: String { get }
    /// Reads and checks parameters; returns nil after recording problems.
    init?(parameters: StepParameters)
}

/// One job: a named, optionally scheduled, ordered list of steps.
public struct JobDefinition: Sendable {
    /// The job's name (`name:`), unique in the jobs folder.
    public let name: String
    /// The job file it was read from.
    public let file: String
    /// What the job is for (`description:`), for people.
    public let description: String?
    /// When it runs (`schedule:`); nil for a job run only on demand.
    public let schedule: CronExpression?
    /// The zone its schedule is read in (`timezone:`, UTC by default).
    public let timeZone: TimeZone
    /// The zone as the job file names it (Foundation reports UTC as "GMT").
    public let timeZoneName: String
    /// Its steps, in the order they run.
    public let steps: [any StepDefinition]
    /// How the scheduler starts, overlaps, times out and retries this job.
    public var policy: RunPolicy = RunPolicy()
    /// Hooks for a run that succeeded.
    public var onSuccess: [Hook] = []
    /// Hooks for a run that failed or timed out.
    public var onFailure: [Hook] = []
    /// Hooks for a run that ended `warned` (every step ran, at least one warned).
    public var onWarning: [Hook] = []

    /// A job with default policy and no hooks.
    public init(
        name: String, file: String, description: String?, schedule: CronExpression?, timeZone: TimeZone,
        timeZoneName: String, steps: [any StepDefinition]
    ) {
        self.name = name; self.file = file; self.description = description; self.schedule = schedule
        self.timeZone = timeZone; self.timeZoneName = timeZoneName; self.steps = steps
    }
}

/// What happens when a run is due while another run of the same job is still going.
public enum ConcurrencyPolicy: String, Sendable, CaseIterable, Codable {
    /// Leave the due run pending until the running one ends (the default).
    case forbid
    /// Stop the running one and start the new one.
    case replace
    /// Run both.
    case allow
}

/// What a tick does with fire times that passed while nothing ticked (downtime).
public enum CatchUpPolicy: String, Sendable, CaseIterable, Codable {
    /// Run once for the most recent missed fire time (the default).
    case latest
    /// Run only a fire time that is current; record the rest as missed.
    case none
}

/// A job's scheduling rules (`concurrency`, `catch_up`, `starting_deadline`, `timeout`,
/// `retries`, `retry_backoff`, `after`).
public struct RunPolicy: Sendable, Equatable {
    /// What happens when a run is due while one is still going.
    public var concurrency: ConcurrencyPolicy = .forbid
    /// What happens to fire times missed while nothing ticked.
    public var catchUp: CatchUpPolicy = .latest
    /// A due run that cannot start within this long after its fire time is recorded as missed.
    public var startingDeadline: TimeInterval?
    /// A run still going after this long is stopped and recorded as timed out.
    public var timeout: TimeInterval?
    /// Failed scheduled runs are retried this many times, waiting `retryBackoff`, then twice that, …
    public var retries: Int = 0
    /// The wait before the first retry, in seconds.
    public var retryBackoff: TimeInterval = 60
    /// Jobs whose success, in this job's current window, this job waits for.
    public var after: [String] = []
    /// The defaults: forbid overlap, catch up the latest, no timeout, no retries.
    public init() {}

    /// How long after a fire time a `catch_up: none` job may still start.
    public var currentFireGrace: TimeInterval { startingDeadline ?? 120 }
    /// The wait before retry `attempt` (2 = the first retry).
    public func backoff(beforeAttempt attempt: Int) -> TimeInterval {
        retryBackoff * pow(2, Double(max(0, attempt - 2)))
    }
}

/// Something to do when a run ends: run a command, or POST the run's JSON summary to a URL.
public struct Hook: Sendable, Equatable {
    /// A command run by `/bin/sh -c`, or a URL the run's JSON summary is POSTed to.
    public enum Action: Sendable, Equatable {
        /// A shell command line.
        case command(String)
        /// An http or https URL.
        case url(URL)
    }
    /// What the hook does.
    public let action: Action
    /// Seconds the hook may take before it is stopped.
    public let timeout: TimeInterval
    /// Variables of leafguard's environment the hook may see (`env: [NAME, …]`); it gets
    /// nothing else of it but PATH, HOME, LANG, TZ and the run's LEAFGUARD_* variables.
    public let passEnvironment: [String]
    /// An `on_success` hook that also fires for warned runs (`on: [success, warning]`).
    public let alsoOnWarning: Bool
    /// A hook with a 10-second timeout that is passed no variable of leafguard's environment.
    public init(action: Action, timeout: TimeInterval = 10, passEnvironment: [String] = [], alsoOnWarning: Bool = false) {
        self.action = action; self.timeout = timeout; self.passEnvironment = passEnvironment; self.alsoOnWarning = alsoOnWarning
    }
}

/// Reads and validates job files against a step catalog.
public struct JobLoader: Sendable {
    /// The configuration jobs are checked against.
    public let config: LeafguardConfig
    /// The steps a job may name.
    public let catalog: [any StepDefinition.Type]

    /// A loader checking job files against `config` and `catalog`.
    public init(config: LeafguardConfig, catalog: [any StepDefinition.Type]) {
        self.config = config
        self.catalog = catalog
    }

    /// The job files in the configured jobs folder, sorted.
    public func jobFiles() throws -> [String] {
        let dir = config.jobsDirectory
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ConfigurationError(
                file: config.file, message: "jobs folder \(dir) does not exist",
                hint: "create it, or set 'jobs:' in the configuration to the folder that holds the job files")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        return names.filter { $0.hasSuffix(".yml") || $0.hasSuffix(".yaml") }.sorted().map { (dir as NSString).appendingPathComponent($0) }
    }

    /// Loads every job in the jobs folder; throws with every problem in every file.
    public func loadAll() throws -> [JobDefinition] {
        try load(files: jobFiles())
    }

    /// Every valid job, and the problems of the files that are not: one broken file stops
    /// only itself (and the jobs that run `after` it), never the others.
    public func loadValid() throws -> (jobs: [JobDefinition], problems: [ConfigProblem]) {
        var jobs: [JobDefinition] = []
        var problems: [ConfigProblem] = []
        for file in try jobFiles() {
            do {
                for job in try load(files: [file], checkingDependencies: false) {
                    if let other = jobs.first(where: { $0.name == job.name }) {
                        problems.append(
                            ConfigProblem(file: file, message: "job name '\(job.name)' is already used by \(other.file)", hint: "job names must be unique"))
                    } else {
                        jobs.append(job)
                    }
                }
            } catch let e as ConfigurationError { problems += e.problems }
        }
        // A job whose `after` names a job that is broken or absent would wait forever: it is
        // reported with it, and left out until fixed; so, in turn, are jobs after it.
        while true {
            let diagnostics = Diagnostics()
            checkDependencies(jobs, diagnostics: diagnostics)
            if diagnostics.isEmpty { break }
            let bad = Set(diagnostics.problems.map(\.file))
            problems += diagnostics.problems
            jobs.removeAll { bad.contains($0.file) }
        }
        return (jobs, problems)
    }

    /// Loads the given job files; job names must be unique across them.
    public func load(files: [String], checkingDependencies: Bool = true) throws -> [JobDefinition] {
        let diagnostics = Diagnostics()
        var jobs: [JobDefinition] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                diagnostics.add(
                    ConfigProblem(file: file, message: FileManager.default.fileExists(atPath: file) ? "cannot read the job file" : "job file does not exist"))
                continue
            }
            guard let text = String(data: data, encoding: .utf8) else {
                diagnostics.add(ConfigProblem(file: file, message: "the file is not UTF-8 text")); continue
            }
            if let job = parse(text, file: file, diagnostics: diagnostics) {
                if let other = jobs.first(where: { $0.name == job.name }) {
                    diagnostics.add(
                        ConfigProblem(file: file, message: "job name '\(job.name)' is already used by \(other.file)", hint: "job names must be unique"))
                } else {
                    jobs.append(job)
                }
            }
        }
        if checkingDependencies { checkDependencies(jobs, diagnostics: diagnostics) }
        try diagnostics.throwIfAny()
        return jobs
    }

    /// A job of one step, for a command that runs that step once (`leafguard backup`,
    /// `prune`): written as a job file would hold it and read like one, so the step's
    /// parameters are checked exactly as in a job file. `parameters` are YAML scalars
    /// (numbers, or strings the caller quotes with `yamlQuoted`).
    public func oneOff(name: String, step: String, parameters: [(String, String)]) throws -> JobDefinition {
        let body = parameters.map { "\($0.0): \($0.1)" }.joined(separator: ", ")
        let text = "name: \(name)\ndescription: one-off run of the \(step) step, from the command line\nsteps:\n  - \(step): {\(body)}\n"
        let diagnostics = Diagnostics()
        let job = parse(text, file: "(command line)", diagnostics: diagnostics)
        try diagnostics.throwIfAny()
        guard let job else { throw ConfigurationError(file: "(command line)", message: "cannot build a one-off \(step) job") }
        return job
    }

    /// `text` as a YAML double-quoted scalar (JSON's string syntax, which YAML reads).
    public static func yamlQuoted(_ text: String) -> String {
        (try? String(decoding: JSONEncoder().encode(text), as: UTF8.self)) ?? "\"\""
    }

    /// `after:` must name other jobs and must not form a cycle.
    func checkDependencies(_ jobs: [JobDefinition], diagnostics: Diagnostics) {
        let names = jobs.map(\.name)
        for job in jobs {
            for dep in job.policy.after where !names.contains(dep) || dep == job.name {
                let guess = closest(to: dep, in: names).map { "did you mean '\($0)'? " } ?? ""
                diagnostics.add(
                    ConfigProblem(
                        file: job.file,
                        message: dep == job.name
                            ? "job '\(job.name)' cannot run after itself"
                            : "'after' names '\(dep)', which is not a job", hint: "\(guess)jobs: \(names.joined(separator: ", "))"))
            }
        }
        // A cycle would leave every job in it waiting forever.
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        func visit(_ name: String, _ path: [String]) {
            if state[name] == 2 { return }
            if state[name] == 1 {
                let cycle = path.drop(while: { $0 != name }) + [name]
                let file = jobs.first { $0.name == name }?.file ?? ""
                diagnostics.add(
                    ConfigProblem(
                        file: file, message: "jobs wait for each other in a cycle: \(cycle.joined(separator: " → "))",
                        hint: "remove one 'after' entry"))
                return
            }
            state[name] = 1
            for dep in jobs.first(where: { $0.name == name })?.policy.after ?? [] where names.contains(dep) && dep != name {
                visit(dep, path + [name])
            }
            state[name] = 2
        }
        for job in jobs { visit(job.name, []) }
    }

    /// Parses one job file's text, reporting problems to `diagnostics`; nil if it is not a job.
    /// Internal to loading; public only to the fuzz harness, through this SPI.
    @_spi(Fuzzing) public func parse(_ text: String, file: String, diagnostics: Diagnostics) -> JobDefinition? {
        guard let root = parseYAML(text, file: file, diagnostics: diagnostics) else { return nil }
        guard let top = root.mapping() else { return nil }
        let name = top.required("name", hint: "e.g. 'name: nightly-backup'")?.string()
        if let name, let v = top["name"], name.isEmpty || name.contains(where: { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            v.report("job name '\(name)' may hold only letters, digits, '-' and '_'")
        }
        let description = top["description"]?.string()
        var schedule: CronExpression?
        if let v = top["schedule"], let s = v.string() {
            do { schedule = try CronExpression(s) } catch let e as CronError {
                v.report("invalid schedule: \(e.message)")
            } catch {}
        }
        var tz = (TimeZone(identifier: "UTC") ?? .gmt)
        var tzName = "UTC"
        if let v = top["timezone"], let s = v.string() {
            if let zone = TimeZone(identifier: s) {
                tz = zone; tzName = s
            } else {
                v.report("unknown time zone '\(s)'", hint: "use an IANA name such as UTC, Europe/London or America/New_York")
            }
        }
        var steps: [any StepDefinition] = []
        if let list = top.required("steps", hint: "a list of steps: \(catalog.map { $0.name }.joined(separator: ", "))")?.sequence() {
            if list.isEmpty { top["steps"]?.report("steps is empty", hint: "a job needs at least one step") }
            for item in list {
                if let step = parseStep(item) { steps.append(step) }
            }
        }
        let policy = parsePolicy(top)
        let onSuccess = parseHooks(top["on_success"])
        let onFailure = parseHooks(top["on_failure"])
        let onWarning = parseHooks(top["on_warning"])
        top.finish()
        guard let name, diagnostics.problems.allSatisfy({ $0.file != file }) else { return nil }
        var job = JobDefinition(
            name: name, file: file, description: description, schedule: schedule, timeZone: tz,
            timeZoneName: tzName, steps: steps)
        job.policy = policy
        job.onSuccess = onSuccess
        job.onFailure = onFailure
        job.onWarning = onWarning
        return job
    }

    func parsePolicy(_ top: MappingReader) -> RunPolicy {
        var policy = RunPolicy()
        if let v = top["concurrency"]?.choice(ConcurrencyPolicy.allCases.map(\.rawValue)), let c = ConcurrencyPolicy(rawValue: v) {
            policy.concurrency = c
        }
        if let v = top["catch_up"]?.choice(CatchUpPolicy.allCases.map(\.rawValue)), let c = CatchUpPolicy(rawValue: v) { policy.catchUp = c }
        policy.startingDeadline = durationValue(top["starting_deadline"], positive: true)
        policy.timeout = durationValue(top["timeout"], positive: true)
        if let v = top["retries"]?.int(in: 0...20) { policy.retries = v }
        if let d = durationValue(top["retry_backoff"], positive: true) { policy.retryBackoff = d }
        if let v = top["after"] {
            if case .scalar = v.node {
                policy.after = v.string().map { [$0] } ?? []
            } else if let list = v.sequence() {
                policy.after = list.compactMap { $0.string() }
            }
        }
        return policy
    }

    func durationValue(_ value: YAMLValue?, positive: Bool) -> TimeInterval? {
        guard let value, let s = value.string() else { return nil }
        guard let d = parseDuration(s), !positive || d > 0 else {
            value.report("'\(s)' is not a duration", hint: "write a positive number and a unit: 30s, 10m, 2h, 1d")
            return nil
        }
        return d
    }

    func parseHooks(_ value: YAMLValue?) -> [Hook] {
        guard let value else { return [] }
        let items: [YAMLValue]
        if case .sequence = value.node { items = value.sequence() ?? [] } else { items = [value] }
        return items.compactMap { item -> Hook? in
            guard let m = item.mapping() else { return nil }
            let command = m["command"]?.string()
            let urlText = m["url"]?.string()
            let timeout = durationValue(m["timeout"], positive: true) ?? 10
            let pass = m["env"]?.sequence()?.compactMap { $0.string() } ?? []
            let on = m["on"]?.sequence()?.compactMap { $0.choice(["success", "warning"]) } ?? []
            m.finish()
            let alsoOnWarning = on.contains("warning")
            switch (command, urlText) {
            case (let c?, nil):
                return Hook(action: .command(c), timeout: timeout, passEnvironment: pass, alsoOnWarning: alsoOnWarning)
            case (nil, let u?):
                guard let url = URL(string: u), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
                    item.report("'\(u)' is not an http or https URL", hint: "e.g. 'url: https://hc-ping.com/UUID'")
                    return nil
                }
                return Hook(action: .url(url), timeout: timeout, alsoOnWarning: alsoOnWarning)
            default:
                item.report("a hook is either 'command: …' or 'url: …'", hint: "e.g. '{url: https://hc-ping.com/UUID/fail, timeout: 10s}'")
                return nil
            }
        }
    }

    func parseStep(_ item: YAMLValue) -> (any StepDefinition)? {
        let stepName: String
        var paramsValue: YAMLValue?
        if case .scalar = item.node {
            guard let s = item.string() else { return nil }
            stepName = s
        } else if case .sequence = item.node {
            item.report("a step must be a name or a mapping, found a list", hint: "write '- backup' or '- {replicate: {to: backup}}'")
            return nil
        } else if let m = item.mapping() {
            let keys = m.keys
            guard keys.count == 1 else {
                item.report(
                    "a step is one name, or a mapping with one name and its parameters; found \(keys.count) keys (\(keys.joined(separator: ", ")))",
                    hint: "write '- backup' or '- {replicate: {to: backup}}'")
                return nil
            }
            stepName = keys[0]
            paramsValue = m[stepName]
        } else {
            item.report("a step must be a name or a mapping, found \(item.kindName)"); return nil
        }
        guard let type = catalog.first(where: { $0.name == stepName }) else {
            let names = catalog.map { $0.name }
            let guess = closest(to: stepName, in: names).map { "did you mean '\($0)'? " } ?? ""
            item.report("unknown step '\(stepName)'", hint: "\(guess)valid steps: \(names.joined(separator: ", "))")
            return nil
        }
        var mapping: MappingReader?
        if let pv = paramsValue, !pv.isNull {
            guard let m = pv.mapping() else { return nil }
            mapping = m
        }
        let params = StepParameters(stepName: stepName, config: config, mapping: mapping, anchor: paramsValue ?? item)
        let before = item.diagnostics.problems.count
        let step = type.init(parameters: params)
        params.finish()
        return item.diagnostics.problems.count == before ? step : nil
    }
}
