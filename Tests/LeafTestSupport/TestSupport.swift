import Foundation
import LeafConcurrency

#if canImport(Glibc)
    import Glibc
#endif

/// A temporary folder removed when released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "leafguard-test") {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        path = base + "/\(label)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        // Restore write permission on anything a test made read-only, then remove.
        _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+w", path]).waitUntilExit()
        try? FileManager.default.removeItem(atPath: path)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    /// Removes this folder when the test process exits, not before: for fixture templates
    /// held in a `static let`, which is never released.
    public func keepUntilExit() {
        TemporaryDirectory.atExit.withLock { paths in
            if paths.isEmpty { atexit { TemporaryDirectory.removeKept() } }
            paths.append(path)
        }
    }

    private static let atExit = Locked<[String]>([])

    private static func removeKept() {
        for path in atExit.value {
            _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+w", path]).waitUntilExit()
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let p = file(name)
        try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
}

/// The result of running a command.
public struct CommandOutput: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public var all: String { stdout + stderr }
}

/// Runs `executable` with `arguments`, capturing output.
@discardableResult
public func runCommand(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    currentDirectory: String? = nil
) throws -> CommandOutput {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let environment { p.environment = environment }
    if let currentDirectory { p.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read both pipes concurrently so a full pipe never blocks the child.
    nonisolated(unsafe) var errData = Data()
    let reader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    while !reader.isFinished { usleep(1000) }
    return CommandOutput(
        status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// Polls `condition` every `interval` seconds until it holds or `timeout` seconds pass;
/// returns whether it held. (A `for _ in 0..<n where !condition { usleep }` loop goes on
/// evaluating the condition n times once it holds: it spun for 45 s in one test.)
@discardableResult
public func waitUntil(timeout: TimeInterval, every interval: TimeInterval = 0.01, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        usleep(UInt32(interval * 1_000_000))
    }
}

/// The built `leafguard` executable beside the test bundle.
public var leafguardExecutable: String {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("leafguard").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    let fallback = FileManager.default.currentDirectoryPath + "/.build/debug/leafguard"
    return fallback
}

/// Runs the leafguard CLI.
@discardableResult
public func leafguard(_ arguments: [String], environment: [String: String]? = nil, in directory: String? = nil) throws -> CommandOutput {
    try runCommand(leafguardExecutable, arguments, environment: environment, currentDirectory: directory)
}

/// Starts the leafguard CLI without waiting, its output discarded (for tests that stop,
/// kill or race it).
public func startLeafguard(_ arguments: [String]) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: leafguardExecutable)
    p.arguments = arguments
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    return p
}

/// The repository's root folder (for shipped files such as jobs/ and ../shared).
public var packageRoot: String {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}

/// Every file below `root`, relative paths, sorted.
public func filesBelow(_ root: String) -> [String] {
    guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
    var out: [String] = []
    while let rel = e.nextObject() as? String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue { out.append(rel) }
    }
    return out.sorted()
}

/// A moto S3 server on loopback, started for a test and stopped (by its process id) when
/// released. Each instance is one "region": stopping it makes the region unreachable.
public final class MotoServer: @unchecked Sendable {
    public let port: Int
    public var endpoint: String { "http://127.0.0.1:\(port)" }
    private let process: Process

    /// The Python that has moto (CI's `.ci/run` installs it with pip; $LEAFGUARD_PYTHON overrides).
    public static var python: String {
        if let p = ProcessInfo.processInfo.environment["LEAFGUARD_PYTHON"] { return p }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where FileManager.default.isExecutableFile(atPath: "\(dir)/python3") {
            return "\(dir)/python3"
        }
        return "/usr/bin/python3"
    }

    public init(environment extra: [String: String] = [:]) throws {
        (process, port) = try Self.start(environment: extra) { port in ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)] }
    }

    /// Starts `python3 ARGUMENTS(port)` on a free loopback port and waits until it answers.
    public static func start(environment extra: [String: String] = [:], _ arguments: (Int) -> [String]) throws -> (Process, Int) {
        var lastError = "not started"
        for _ in 0..<5 {
            let port = Int.random(in: 20_000...60_000)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.python)
            p.arguments = arguments(port)
            var env = ProcessInfo.processInfo.environment
            for (k, v) in extra { env[k] = v }
            p.environment = env
            p.standardOutput = FileHandle.nullDevice
            // $LEAFGUARD_MOTO_LOG keeps the server's log (its tracebacks explain a 500).
            if let log = ProcessInfo.processInfo.environment["LEAFGUARD_MOTO_LOG"] {
                FileManager.default.createFile(atPath: log, contents: nil)
                p.standardError = FileHandle(forWritingAtPath: log)
            } else {
                p.standardError = FileHandle.nullDevice
            }
            try p.run()
            // Ready when it answers on its port.
            for _ in 0..<150 {
                if !p.isRunning { break }
                if Self.answers(port) { return (p, port) }
                usleep(100_000)
            }
            lastError = "\(arguments(port).joined(separator: " ")) did not answer on port \(port)"
            if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        }
        throw NSError(
            domain: "MotoServer", code: 1,
            userInfo: [NSLocalizedDescriptionKey: lastError + " (is moto installed for \(Self.python)? pip install 'moto[server]')"])
    }

    public static func answers(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// Stops the server now (a region outage); it cannot be restarted.
    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    deinit { stop() }
}

/// An HTTP proxy on loopback in front of an S3 server that injects faults: a 503 SlowDown
/// for every `failEvery`-th request, a delay before each, and counts requests in flight.
public final class FaultProxy: @unchecked Sendable {
    public let port: Int
    public var endpoint: String { "http://127.0.0.1:\(port)" }
    private let process: Process

    static let source = #"""
        import http.server, json, sys, threading, time, urllib.request, urllib.error
        upstream, port, fail_every, delay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
        lock = threading.Lock()
        state = {"requests": 0, "in_flight": 0, "max_in_flight": 0, "failed": 0}
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def reply(self, status, headers, body):
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD": self.wfile.write(body)
            def handle_any(self):
                if self.path == "/__stats":
                    with lock: body = json.dumps(state).encode()
                    return self.reply(200, [], body)
                if self.command in ("PUT", "POST") and self.headers.get("Content-Length") is None:
                    return self.reply(411, [("Content-Type", "application/xml")], b"<Error><Code>MissingContentLength</Code><Message>You must provide the Content-Length HTTP header.</Message></Error>")
                n = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(n) if n else None
                with lock:
                    state["requests"] += 1; count = state["requests"]
                    state["in_flight"] += 1; state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
                try:
                    time.sleep(delay)
                    if fail_every and count % fail_every == 0:
                        with lock: state["failed"] += 1
                        return self.reply(503, [("Content-Type", "application/xml")], b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection", "expect", "transfer-encoding")}
                    # urllib would label a body as a form, and the server would parse it as one.
                    if data is not None and not any(k.lower() == "content-type" for k in headers): headers["Content-Type"] = "binary/octet-stream"
                    req = urllib.request.Request(upstream + self.path, data=data, method=self.command, headers=headers)
                    try:
                        with urllib.request.urlopen(req) as r: status, hdrs, body = r.status, r.getheaders(), r.read()
                    except urllib.error.HTTPError as e: status, hdrs, body = e.code, e.headers.items(), e.read()
                    self.reply(status, hdrs, body)
                finally:
                    with lock: state["in_flight"] -= 1
            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any
        http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
        """#

    public init(upstream: String, failEvery: Int = 0, delay: Double = 0) throws {
        for _ in 0..<5 {
            let port = Int.random(in: 20_000...60_000)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: MotoServer.python)
            p.arguments = ["-c", Self.source, upstream, String(port), String(failEvery), String(delay)]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            for _ in 0..<100 {
                if !p.isRunning { break }
                if MotoServer.answers(port) { self.port = port; self.process = p; return }
                usleep(50_000)
            }
            if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        }
        throw NSError(domain: "FaultProxy", code: 1, userInfo: [NSLocalizedDescriptionKey: "the fault proxy did not start"])
    }

    /// requests, in_flight, max_in_flight, failed.
    public func stats() throws -> [String: Int] {
        let r = try runCommand(MotoServer.python, ["-c", "import urllib.request; print(urllib.request.urlopen('\(endpoint)/__stats').read().decode())"])
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Int]) ?? [:]
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
}
