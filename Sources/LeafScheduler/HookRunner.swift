import Foundation
import LeafConcurrency
import LeafConfig
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Runs a job's `on_success` / `on_failure` hooks. A hook gets the run's JSON summary
/// (a command on standard input, a URL as a POST body), is stopped at its timeout, and
/// whatever it does is logged and never changes the run's outcome.
public struct HookRunner: Sendable {
    /// Where each hook's outcome is logged.
    public let logger: Logger
    /// A runner logging to `logger`.
    public init(logger: Logger) { self.logger = logger }

    /// Runs each hook in turn; returns one line per hook saying how it went.
    @discardableResult
    public func run(_ hooks: [Hook], summary: Data, environment: [String: String]) -> [String] {
        hooks.map { hook in
            let outcome: HookOutcome
            switch hook.action {
            case .command(let command):
                outcome = runCommand(
                    command, input: summary, environment: Self.childEnvironment(run: environment, passing: hook.passEnvironment),
                    timeout: hook.timeout)
            case .url(let url): outcome = post(summary, to: url, timeout: hook.timeout)
            }
            logger.log(level: outcome.succeeded ? .info : .warning, "hook finished", metadata: ["hook": "\(hook.label)", "result": "\(outcome.text)"])
            return "\(hook.label): \(outcome.text)"
        }
    }

    /// What a child process sees of leafguard's environment: PATH, HOME, LANG, LC_ALL, TZ,
    /// the variables the hook names, and the run's own variables (LEAFGUARD_JOB, …). Never
    /// the master key's variable, a passphrase or cloud credentials unless named.
    static func childEnvironment(
        run: [String: String], passing names: [String],
        from parent: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String: String] {
        var out: [String: String] = [:]
        for name in ["PATH", "HOME", "LANG", "LC_ALL", "TZ"] + names { if let v = parent[name] { out[name] = v } }
        if out["PATH"] == nil { out["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        for (k, v) in run where k.hasPrefix("LEAFGUARD_") { out[k] = v }
        return out
    }

    /// Runs `command` through /bin/sh in a process group of its own, with only standard
    /// input (the summary), output and error (/dev/null) open; a timeout stops the whole group.
    func runCommand(_ command: String, input: Data, environment: [String: String], timeout: TimeInterval) -> HookOutcome {
        let child: ChildProcess
        do { child = try ChildProcess.spawn("/bin/sh", ["-c", command], environment: environment) } catch {
            return .failed("failed to start: \(error)")
        }
        // A hook that does not read its input must not block us: written on a worker,
        // which ends when the child has read it, exited (EPIPE) or been stopped.
        let writer = child.stdinWriter
        let feeding = BoundedWork(width: 1, label: "leafguard.hook-input")
        feeding.submit {
            let handle = FileHandle(fileDescriptor: writer, closeOnDealloc: true)
            try? handle.write(contentsOf: input)
            try? handle.close()
        }
        defer { feeding.wait() }
        switch child.wait(timeout: timeout) {
        case .exited(let status): return status == 0 ? .ok("ok") : .failed("exited with status \(status)")
        case .signalled(let signal): return .failed("killed by signal \(signal)")
        case .timedOut: return .failed("stopped after its \(duration(timeout)) timeout")
        }
    }

    func post(_ body: Data, to url: URL, timeout: TimeInterval) -> HookOutcome {
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("leafguard", forHTTPHeaderField: "User-Agent")
        let done = DispatchSemaphore(value: 0)
        let result = Locked(HookOutcome.failed("failed: no response"))
        let task = URLSession.shared.dataTask(with: request) { _, response, error in
            if let error {
                result.set(.failed("failed: \(error.localizedDescription)"))
            } else if let http = response as? HTTPURLResponse {
                result.set((200..<300).contains(http.statusCode) ? .ok("ok (HTTP \(http.statusCode))") : .failed("failed: HTTP \(http.statusCode)"))
            }
            done.signal()
        }
        task.resume()
        if done.wait(timeout: .now() + timeout + 1) == .timedOut {
            task.cancel()
            return .failed("failed: no answer within \(duration(timeout))")
        }
        return result.value
    }
}

/// How one hook went: whether it succeeded, and the words for the run's history.
enum HookOutcome: Sendable {
    case ok(String)
    case failed(String)

    var succeeded: Bool { if case .ok = self { return true }; return false }
    var text: String {
        switch self {
        case .ok(let t), .failed(let t): return t
        }
    }
}

extension Hook {
    /// How a hook is named in logs: the command's first word, or the URL without its path
    /// (a healthchecks URL's path is its secret).
    var label: String {
        switch action {
        case .command(let c): return "command " + (c.split(separator: " ").first.map(String.init) ?? c)
        case .url(let u): return "POST \(u.scheme ?? "https")://\(u.host ?? "")\(u.port.map { ":\($0)" } ?? "")/…"
        }
    }
}
