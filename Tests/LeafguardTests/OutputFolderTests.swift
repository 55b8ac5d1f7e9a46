import Foundation
import LeafCompliance
import LeafConfig
import LeafDeployment
import LeafReports
import LeafSodium
import LeafTestSupport
import Testing

@testable import LeafRepository

/// Files leafguard writes by names it did not choose, into folders others may share
/// (issue 29, defects 3, 5 and 10): nothing lands outside the target, no link is followed,
/// no file another user planted receives a byte, and a target that is a link is refused.
@Suite struct OutputFolderTests {
    /// A folder any user may write to (mode 1777, like /tmp), and a way to act in it as
    /// another user (`setpriv` to nobody).
    final class SharedFolder {
        let dir = TemporaryDirectory("leafguard-shared")
        var path: String { dir.file("shared") }
        init() throws {
            // Every folder above must be searchable by the other user.
            chmod(dir.path, 0o755)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            chmod(path, 0o1777)
        }
        /// Runs a shell command as uid/gid 65534 (nobody) in the shared folder.
        func asNobody(_ script: String) throws {
            let r = try runCommand(
                "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", "-c", "umask 0; " + script], currentDirectory: path)
            #expect(r.status == 0, "as nobody: \(script): \(r.all)")
        }
        func owner(_ name: String) -> (uid: UInt32, mode: UInt32)? {
            var st = stat()
            guard lstat(path + "/" + name, &st) == 0 else { return nil }
            return (st.st_uid, UInt32(st.st_mode & 0o7777))
        }
    }

    /// Seals a report as a client holding a data key would (the key an archived report or
    /// snapshot is sealed under), with `files` as the names and contents.
    static func forgeReport(_ f: DisasterFixture, files: [String: String]) throws -> ObjectID {
        let deployment = Deployment(config: try ConfigLoader.load(path: f.config))
        let repo = try deployment.repository("primary")
        let newest = try #require(try repo.snapshots().last)
        let sealed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: f.file("regions/primary/loc0/snapshots/\(newest.id.hex)"))))
        let key = try repo.dataKey(try EnvelopeHeader.decode(sealed).keyID)
        let report = StoredReport(
            kind: "compliance", created: Date(), asOf: "2026-12-01T00:00:00Z", figures: ["findings": 1],
            files: files.mapValues { Data($0.utf8) })
        let json = [UInt8](try JSON.encoder.encode(report))
        let header = EnvelopeHeader(
            algorithm: key.algorithm, kind: .report, objectID: report.id, keyID: key.id, plaintextLength: UInt64(json.count),
            nonce: Sodium.randomBytes(key.algorithm.nonceLength))
        try repo.putReplicated("reports/\(report.id.hex)", try Envelope.seal(json, header: header, key: key.secret))
        return report.id
    }

    /// Defect 3: a forged report naming `../ESCAPED.txt` writes nothing, anywhere; verify
    /// reads data and flags it.
    @Test func aForgedReportNameThatClimbsOutIsRefusedAndFlagged() throws {
        let f = try DisasterFixture()
        let id = try Self.forgeReport(f, files: ["../ESCAPED.txt": "attacker's words", "findings.txt": "fine"])
        try FileManager.default.createDirectory(atPath: f.file("out/target"), withIntermediateDirectories: true)
        let r = try f.run(["reports", "get", id.hex, "--to", f.file("out/target")])
        #expect(r.status == 1, "\(r.all)")
        #expect(r.stderr.contains("not a plain file name") && r.stderr.contains("nothing was written"), "\(r.all)")
        #expect(!FileManager.default.fileExists(atPath: f.file("out/ESCAPED.txt")), "written outside --to")
        #expect(filesBelow(f.file("out/target")).isEmpty, "nothing of a forged report is written")
        // The audit log says it in words for people (it held Swift's debug description).
        let audit = try f.run(["audit", "show", "--json"])
        #expect(audit.stdout.contains("not a plain file name") && !audit.stdout.contains("CommandFailure("), "\(audit.all)")
        let verify = try f.run(["verify", "--read-data", "--region", "primary"])
        #expect(verify.status == 1 && verify.stdout.contains("malformed-report") && verify.stdout.contains(id.hex), "\(verify.all)")
    }

    /// Defects 3 and 10: a link planted in the target is not followed, a target that is a
    /// link is refused before it is resolved, and another user's planted file in a shared
    /// folder receives nothing.
    @Test func reportsGetFollowsNoLinkAndFillsNoPlantedFile() throws {
        let f = try DisasterFixture()
        let scan = try f.run(["scan", "--out", f.file("scan"), "--format", "json,md"])
        #expect(scan.status == 0 || scan.status == 1, "\(scan.all)")
        let list = try f.run(["reports", "list", "--json"])
        let id = try #require(list.stdout.split(separator: "\"").first { $0.count == 32 }.map(String.init), "\(list.all)")

        // A link planted under a report's file name, pointing at a file outside.
        let victim = try f.d.dir.write("victim.txt", "untouched")
        try FileManager.default.createDirectory(atPath: f.file("target"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: f.file("target/compliance.json"), withDestinationPath: victim)
        let linked = try f.run(["reports", "get", id, "--to", f.file("target")])
        #expect(linked.status == 2 && linked.stderr.contains("compliance.json is a symbolic link"), "\(linked.all)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "untouched")

        // The target itself a link to an existing folder: refused, nothing written there.
        try FileManager.default.createDirectory(atPath: f.file("real"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: f.file("link"), withDestinationPath: f.file("real"))
        for command in [
            ["reports", "get", id, "--to", f.file("link")], ["scan", "--out", f.file("link")], ["restore", "latest", "--to", f.file("link")],
        ] {
            let r = try f.run(command)
            #expect(r.status == 2 && r.stderr.contains("symbolic link"), "\(command): \(r.all)")
            #expect(filesBelow(f.file("real")).isEmpty, "\(command) wrote through the link")
        }

        // Another user's world-writable file planted in a shared folder.
        let shared = try SharedFolder()
        try shared.asNobody("touch compliance.json && chmod 666 compliance.json")
        let planted = try f.run(["reports", "get", id, "--to", shared.path])
        #expect(planted.status == 2 && planted.stderr.contains("belongs to another user"), "\(planted.all)")
        #expect((try? Data(contentsOf: URL(fileURLWithPath: shared.path + "/compliance.json")))?.isEmpty == true, "the planted file received the findings")
        // Without the planted file, the files are the caller's own, 0600.
        try FileManager.default.removeItem(atPath: shared.path + "/compliance.json")
        let clean = try f.run(["reports", "get", id, "--to", shared.path])
        #expect(clean.status == 0, "\(clean.all)")
        for name in ["compliance.json", "compliance.md", "manifest.json"] {
            let o = try #require(shared.owner(name), "\(name)")
            #expect(o.uid == geteuid() && o.mode == 0o600, "\(name): uid \(o.uid) mode \(String(o.mode, radix: 8))")
        }
    }

    /// Defect 5: the scan's temporary files had guessable names (`PATH.tmp-PID`) opened with
    /// O_CREAT|O_TRUNC: a file another user planted under that name received the findings,
    /// became the output, and stayed theirs, mode 0666.
    @Test func aScanWritesNoFileAnotherUserPlanted() throws {
        let f = try DisasterFixture()
        let config = try ConfigLoader.load(path: f.config)
        let report = try ComplianceScanner(databasePath: config.dataDirectory + "/planner.db", settings: config.complianceSettings).scan(asOf: Date())
        let shared = try SharedFolder()
        // The names the old code would use in this (the writing) process.
        let pid = getpid()
        try shared.asNobody("for n in json csv; do touch compliance.$n.tmp-\(pid); chmod 666 compliance.$n.tmp-\(pid); done")
        let written = try ScanOutputs.write(report, formats: [.json, .csv], to: shared.path, config: config)
        #expect(written.count == 3)
        for name in ["compliance.json", "compliance.csv", "manifest.json"] {
            let o = try #require(shared.owner(name), "\(name)")
            #expect(o.uid == geteuid() && o.mode == 0o600, "\(name): uid \(o.uid) mode \(String(o.mode, radix: 8))")
        }
        for n in ["json", "csv"] {
            let plantedSize = (try? FileManager.default.attributesOfItem(atPath: shared.path + "/compliance.\(n).tmp-\(pid)")[.size] as? Int) ?? -1
            #expect(plantedSize == 0, "the planted compliance.\(n).tmp-\(pid) received \(plantedSize) bytes")
        }
        // A planted output name is refused with its reason, and keeps its (empty) content.
        try shared.asNobody("rm -f compliance.json.tmp-* compliance.csv.tmp-*")
        try FileManager.default.removeItem(atPath: shared.path + "/compliance.json")
        try shared.asNobody("touch compliance.json && chmod 666 compliance.json")
        #expect(throws: (any Error).self) { try ScanOutputs.write(report, formats: [.json], to: shared.path, config: config) }
        #expect((try? Data(contentsOf: URL(fileURLWithPath: shared.path + "/compliance.json")))?.isEmpty == true)
    }
}
