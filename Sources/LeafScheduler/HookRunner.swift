import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LeafConfig
import Logging

/// Runs a job's `on_success` / `on_failure` hooks. A hook gets the run's JSON summary
/// (a command on standard input, a URL as a POST body), is stopped at its timeout, and
/// whatever it does is logged and never changes the run's outcome.
public struct HookRunner: Sendable {
    public let logger: Logger
    public init(logger: Logger) { self.logger = logger }

    /// Runs each hook in turn; returns one line per hook saying how it went.
    @discardableResult
    public func run(_ hooks: [Hook], summary: Data, environment: [String: String]) -> [String] {
        hooks.map { hook in
            let outcome: String
            switch hook.action {
            case .command(let command): outcome = runCommand(command, input: summary, environment: environment, timeout: hook.timeout)
            case .url(let url): outcome = post(summary, to: url, timeout: hook.timeout)
            }
            let ok = outcome.hasPrefix("ok")
            logger.log(level: ok ? .info : .warning, "hook finished", metadata: ["hook": "\(hook.label)", "result": "\(outcome)"])
            return "\(hook.label): \(outcome)"
        }
    }

    func runCommand(_ command: String, input: Data, environment: [String: String], timeout: TimeInterval) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let stdin = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return "failed to start: \(error.localizedDescription)" }
        // A hook that does not read its input must not block us: write, then close.
        DispatchQueue.global().async {
            try? stdin.fileHandleForWriting.write(contentsOf: input)
            try? stdin.fileHandleForWriting.close()
        }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(-process.processIdentifier, SIGKILL)
            process.terminate()
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return "stopped after its \(duration(timeout)) timeout"
        }
        return process.terminationStatus == 0 ? "ok" : "exited with status \(process.terminationStatus)"
    }

    func post(_ body: Data, to url: URL, timeout: TimeInterval) -> String {
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("leafguard", forHTTPHeaderField: "User-Agent")
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        let task = URLSession.shared.dataTask(with: request) { _, response, error in
            if let error { box.value = "failed: \(error.localizedDescription)" }
            else if let http = response as? HTTPURLResponse {
                box.value = (200..<300).contains(http.statusCode) ? "ok (HTTP \(http.statusCode))" : "failed: HTTP \(http.statusCode)"
            }
            done.signal()
        }
        task.resume()
        if done.wait(timeout: .now() + timeout + 1) == .timedOut {
            task.cancel()
            return "failed: no answer within \(duration(timeout))"
        }
        return box.value
    }
}

private final class ResultBox: @unchecked Sendable {
    var value = "failed: no response"
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
