import Foundation
import LeafCron

/// The parameters of one step as written in a job file, with typed accessors that record
/// located problems. A step written bare (`- backup`) has an empty parameter mapping.
public struct StepParameters {
    public let stepName: String
    public let config: LeafguardConfig
    let mapping: MappingReader?
    let anchor: YAMLValue

    /// The value under `key`, or nil.
    public subscript(_ key: String) -> YAMLValue? { mapping?[key] }

    /// The value under `key`, recording a problem when missing.
    public func required(_ key: String, hint: String? = nil) -> YAMLValue? {
        if let mapping { return mapping.required(key, hint: hint) }
        anchor.report("step '\(stepName)' needs the parameter '\(key)'", hint: hint.map { "\($0), e.g. '{\(stepName): {\(key): …}}'" }
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
    public let name: String
    public let file: String
    public let description: String?
    public let schedule: CronExpression?
    public let timeZone: TimeZone
    /// The zone as the job file names it (Foundation reports UTC as "GMT").
    public let timeZoneName: String
    public let steps: [any StepDefinition]
}

/// Reads and validates job files against a step catalog.
public struct JobLoader: Sendable {
    public let config: LeafguardConfig
    public let catalog: [any StepDefinition.Type]

    public init(config: LeafguardConfig, catalog: [any StepDefinition.Type]) {
        self.config = config
        self.catalog = catalog
    }

    /// The job files in the configured jobs folder, sorted.
    public func jobFiles() throws -> [String] {
        let dir = config.jobsDirectory
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ConfigurationError(file: config.file, message: "jobs folder \(dir) does not exist",
                                     hint: "create it, or set 'jobs:' in the configuration to the folder that holds the job files")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        return names.filter { $0.hasSuffix(".yml") || $0.hasSuffix(".yaml") }.sorted().map { (dir as NSString).appendingPathComponent($0) }
    }

    /// Loads every job in the jobs folder; throws with every problem in every file.
    public func loadAll() throws -> [JobDefinition] {
        try load(files: jobFiles())
    }

    /// Loads the given job files; job names must be unique across them.
    public func load(files: [String]) throws -> [JobDefinition] {
        let diagnostics = Diagnostics()
        var jobs: [JobDefinition] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                diagnostics.add(ConfigProblem(file: file, message: FileManager.default.fileExists(atPath: file) ? "cannot read the job file" : "job file does not exist"))
                continue
            }
            guard let text = String(data: data, encoding: .utf8) else {
                diagnostics.add(ConfigProblem(file: file, message: "the file is not UTF-8 text")); continue
            }
            if let job = parse(text, file: file, diagnostics: diagnostics) {
                if let other = jobs.first(where: { $0.name == job.name }) {
                    diagnostics.add(ConfigProblem(file: file, message: "job name '\(job.name)' is already used by \(other.file)", hint: "job names must be unique"))
                } else {
                    jobs.append(job)
                }
            }
        }
        try diagnostics.throwIfAny()
        return jobs
    }

    func parse(_ text: String, file: String, diagnostics: Diagnostics) -> JobDefinition? {
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
        var tz = TimeZone(identifier: "UTC")!
        var tzName = "UTC"
        if let v = top["timezone"], let s = v.string() {
            if let zone = TimeZone(identifier: s) { tz = zone; tzName = s } else {
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
        top.finish()
        guard let name, diagnostics.problems.allSatisfy({ $0.file != file }) else { return nil }
        return JobDefinition(name: name, file: file, description: description, schedule: schedule, timeZone: tz,
                             timeZoneName: tzName, steps: steps)
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
                item.report("a step is one name, or a mapping with one name and its parameters; found \(keys.count) keys (\(keys.joined(separator: ", ")))",
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
