import Foundation
import LeafTestSupport
import Testing

/// README.md's "Using it" commands, run as an operator would copy them: in order, through
/// /bin/sh, in an empty working folder, with `leafguard` on PATH. Only absolute paths move
/// into the test's folder (/tmp/… and /etc/leafguard/… are the operator's machine's).
/// `leafguard` is the debug build, or the binary LEAFGUARD_README_BINARY names (.ci/run
/// names the release build).
@Suite struct ReadmeTests {
    static func usingItCommands() throws -> [String] {
        let text = try String(contentsOfFile: packageRoot + "/README.md", encoding: .utf8)
        var out: [String] = []
        var section = false
        var inside = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { section = line == "## Using it" }
            guard section else { continue }
            if line.hasPrefix("```") {
                if inside { break }
                inside = line == "```sh"
                continue
            }
            guard inside else { continue }
            // The command without its trailing comment (none of them quotes a '#').
            let command = String(line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]).trimmingCharacters(in: .whitespaces)
            if !command.isEmpty { out.append(command) }
        }
        return out
    }

    @Test func theReadmeCommandsRunAsWritten() throws {
        let commands = try Self.usingItCommands()
        #expect(commands.count >= 15 && commands.first == "leafguard demo --dir demo", "\(commands)")
        let dir = TemporaryDirectory("leafguard-readme")
        let work = dir.file("operator")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        var env = ProcessInfo.processInfo.environment
        // CI runs this test a second time with LEAFGUARD_README_BINARY set to the release
        // binary `make demo` built: the one a newcomer runs these commands with.
        let binary = env["LEAFGUARD_README_BINARY"] ?? leafguardExecutable
        #expect(FileManager.default.isExecutableFile(atPath: binary), "\(binary)")
        env["PATH"] = (binary as NSString).deletingLastPathComponent + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        for command in commands {
            let moved = command.replacingOccurrences(of: "/tmp/", with: dir.file("tmp") + "/")
                .replacingOccurrences(of: "/etc/leafguard/", with: dir.file("etc/leafguard") + "/")
            let r = try runCommand("/bin/sh", ["-c", moved], environment: env, currentDirectory: work)
            #expect(r.status == 0, "`\(command)` exited \(r.status): \(r.all)")
        }
        #expect(sameTree(work + "/demo/planner-data", dir.file("tmp/restored")), "the README's restore gave back the data")
        #expect(FileManager.default.fileExists(atPath: dir.file("etc/leafguard/master.key")))
    }
}
