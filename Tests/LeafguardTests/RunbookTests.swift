import Foundation
import LeafTestSupport
import Testing

/// docs/operations.md's disaster-recovery runbook, run as written: each ```sh runbook=NAME
/// block's commands, one by one through /bin/sh with `leafguard` on PATH and
/// LEAFGUARD_CONFIG set, in a working folder of the deployment's, after the disaster that
/// block is for. Every command must succeed and the restore must give back the data.
@Suite struct RunbookTests {
    /// The commands of the block `runbook=name`, comments and blank lines dropped.
    static func commands(_ name: String) throws -> [String] {
        let text = try String(contentsOfFile: packageRoot + "/docs/operations.md", encoding: .utf8)
        var out: [String] = []
        var inside = false
        var found = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                if inside { inside = false } else if line == "```sh runbook=\(name)" { inside = true; found = true }
                continue
            }
            let command = line.trimmingCharacters(in: .whitespaces)
            if inside && !command.isEmpty && !command.hasPrefix("#") { out.append(command) }
        }
        guard found else { throw RunbookError("docs/operations.md has no block runbook=\(name)") }
        return out
    }

    struct RunbookError: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    func follow(_ name: String, on f: DisasterFixture, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let commands = try Self.commands(name)
        #expect(commands.contains { $0.hasPrefix("leafguard restore") }, "the \(name) runbook restores", sourceLocation: sourceLocation)
        let work = f.file("operator")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        var env = ProcessInfo.processInfo.environment
        env["LEAFGUARD_CONFIG"] = f.config
        env["PATH"] = (leafguardExecutable as NSString).deletingLastPathComponent + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        env.merge(DisasterFixture.passphraseEnvironment) { _, b in b }
        for command in commands {
            let r = try runCommand("/bin/sh", ["-c", command], environment: env, currentDirectory: work)
            #expect(r.status == 0, "\(name): `\(command)` exited \(r.status): \(r.all)", sourceLocation: sourceLocation)
        }
        #expect(sameTree(f.expected.last!.data, work + "/restored-planner"), "\(name): the restore gave back the data", sourceLocation: sourceLocation)
        try f.expectVerifyClean("after the \(name) runbook", sourceLocation: sourceLocation)
    }

    @Test func theHostLostRunbook() throws {
        let f = try DisasterFixture()
        try FileManager.default.removeItem(atPath: f.file("state"))
        try follow("host-lost", on: f)
    }

    @Test func theRegionLostRunbook() throws {
        let f = try DisasterFixture()
        try FileManager.default.removeItem(atPath: f.file("regions/primary"))
        try follow("region-lost", on: f)
        try f.restoreEverySnapshot("after the runbook")
    }

    @Test func theBothDamagedRunbook() throws {
        let f = try DisasterFixture()
        for i in 0..<3 { try FileManager.default.removeItem(atPath: f.file("regions/primary/loc\(i)")) }
        for i in 3..<6 { try FileManager.default.removeItem(atPath: f.file("regions/backup/loc\(i)")) }
        try follow("both-damaged", on: f)
    }

    /// A rotation killed at a moment spread over a measured one, then the host lost: the
    /// runbook finishes or redoes it and nothing is unreadable, wherever the kill landed.
    @Test func theRotationInterruptedRunbook() throws {
        let f = try DisasterFixture()
        try f.d.dir.write("jobs/keys.yml", "name: keys\nsteps: [rotate-keys]\n")
        let t0 = Date()
        try f.expectSuccess(["keys", "rotate"])
        let duration = Date().timeIntervalSince(t0)
        let p = try startLeafguard(["keys", "rotate", "--config", f.config])
        usleep(UInt32(duration / 2 * 1_000_000))
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        try FileManager.default.removeItem(atPath: f.file("state"))
        try follow("rotation-interrupted", on: f)
        try f.restoreEverySnapshot("after the rotation runbook")
    }
}
