import Foundation
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
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                       currentDirectory: String? = nil) throws -> CommandOutput {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let environment { p.environment = environment }
    if let currentDirectory { p.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    let out = Pipe(), err = Pipe()
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
    return CommandOutput(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
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
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/python3") {
            return "\(dir)/python3"
        }
        return "/usr/bin/python3"
    }

    public init(environment extra: [String: String] = [:]) throws {
        var lastError = "not started"
        for _ in 0..<5 {
            let port = Int.random(in: 20_000...60_000)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.python)
            p.arguments = ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)]
            var env = ProcessInfo.processInfo.environment
            for (k, v) in extra { env[k] = v }
            p.environment = env
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Ready when it answers on its port.
            for _ in 0..<150 {
                if !p.isRunning { break }
                if Self.answers(port) { self.port = port; self.process = p; return }
                usleep(100_000)
            }
            lastError = "moto did not answer on port \(port)"
            if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        }
        throw NSError(domain: "MotoServer", code: 1, userInfo: [NSLocalizedDescriptionKey: lastError + " (is moto installed for \(Self.python)? pip install 'moto[server]')"])
    }

    static func answers(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    }

    /// Stops the server now (a region outage); it cannot be restarted.
    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    deinit { stop() }
}
