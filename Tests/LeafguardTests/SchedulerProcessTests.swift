import Foundation
import LeafDigest
import LeafScheduler
import LeafTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `tick` and `run` as real processes against a real deployment: locks, claims, dead
/// holders, timeouts, retries, hooks, metrics and history.
@Suite struct SchedulerProcessTests {
    /// A deployment with one scheduled backup job, `nightly`, extended by `extra` job keys.
    func deployment(_ extra: String = "") throws -> DeploymentFixture {
        let d = try DeploymentFixture()
        try d.markDrillCopy()
        try d.dir.write("jobs/nightly.yml", "name: nightly\nschedule: \"30 2 * * *\"\ntimezone: UTC\n\(extra)steps: [backup]\n")
        return d
    }

    func catalog(_ d: DeploymentFixture) throws -> RunCatalog { try RunCatalog(stateDirectory: d.dir.file("state")) }

    /// Starts `run nightly` and stops it (SIGSTOP) while its run is recorded as running.
    func startAndFreeze(_ d: DeploymentFixture) throws -> (Process, RunRecord) {
        for _ in 0..<5 {
            let p = try startLeafguard(["run", "nightly", "--config", d.config])
            while p.isRunning {
                if let running = try catalog(d).runningRuns(job: "nightly").first(where: { $0.pid == p.processIdentifier }),
                    FileLock.holder(at: d.dir.file("state/locks/job-nightly.lock"))?.runID == running.id
                {
                    kill(p.processIdentifier, SIGSTOP)
                    if p.isRunning { return (p, running) }
                }
                usleep(500)
            }
        }
        throw SchedulerError("the run always finished before it could be stopped")
    }

    @Test func overlappingTicksStartADueRunOnce() throws {
        let d = try deployment()
        #expect(try leafguard(["tick", "--now", "2026-03-01T00:00:00Z", "--config", d.config]).status == 0)
        let ticks = try (0..<4).map { _ in try startLeafguard(["tick", "--now", "2026-03-01T02:30:20Z", "--config", d.config]) }
        for t in ticks { t.waitUntilExit() }
        #expect(ticks.allSatisfy { $0.terminationStatus == 0 })
        let runs = try catalog(d).history(job: "nightly")
        #expect(runs.count == 1, "\(runs.map { "\($0.id) \($0.outcome)" })")
        #expect(runs.first?.outcome == .succeeded && runs.first?.trigger == .schedule)
        #expect(runs.first?.scheduledFor == ISO8601DateFormatter().date(from: "2026-03-01T02:30:00Z"))
        // A later tick in the same minute finds nothing due.
        #expect(try leafguard(["tick", "--now", "2026-03-01T02:30:50Z", "--config", d.config]).status == 0)
        #expect(try catalog(d).history(job: "nightly").count == 1)
    }

    @Test func aKilledHolderIsDetectedAndTakenOver() throws {
        let d = try deployment()
        let (holder, record) = try startAndFreeze(d)
        // While it lives, a second run is refused with who holds the job.
        let refused = try leafguard(["run", "nightly", "--config", d.config])
        #expect(refused.status == 75)
        #expect(refused.stderr.contains("already running") && refused.stderr.contains("pid \(holder.processIdentifier)"), "\(refused.all)")
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        let tick = try leafguard(["tick", "--config", d.config])
        #expect(tick.stdout.contains("run \(record.id)") && tick.stdout.contains("interrupted"), "\(tick.all)")
        #expect(try catalog(d).run(id: record.id)?.outcome == .interrupted)
        let again = try leafguard(["run", "nightly", "--config", d.config])
        #expect(again.status == 0, "\(again.all)")
        let r = try leafguard(["restore", "latest", "--to", d.dir.file("restored"), "--config", d.config])
        #expect(r.status == 0, "\(r.all)")
        #expect(sameTree(d.dir.file("planner-data"), d.dir.file("restored")))
    }

    /// The old run is certainly in the middle of its backup (stalled after its third shard
    /// by the debug-only hook) when the newer one stops it: no timing is guessed.
    @Test func replaceStopsTheRunningRunAndTakesOver() throws {
        let d = try deployment("concurrency: replace\n")
        let old = Process()
        old.executableURL = URL(fileURLWithPath: leafguardExecutable)
        old.arguments = ["run", "nightly", "--config", d.config]
        var env = ProcessInfo.processInfo.environment
        env["LEAFGUARD_STALL_AFTER_SHARDS"] = "3"
        old.environment = env
        old.standardOutput = FileHandle.nullDevice
        old.standardError = FileHandle.nullDevice
        try old.run()
        waitUntil(timeout: 300) { filesBelow(d.dir.file("regions/primary")).filter({ $0.contains("/data/") }).count >= 3 }
        let record = try #require(try catalog(d).runningRuns(job: "nightly").first { $0.pid == old.processIdentifier })
        let newer = try leafguard(["run", "nightly", "--config", d.config])
        old.waitUntilExit()
        #expect(old.terminationStatus == 128 + SIGTERM, "the old run was stopped by SIGTERM and said so")
        #expect(newer.status == 0, "\(newer.all)")
        let runs = try catalog(d).history(job: "nightly")
        let stopped = runs.first { $0.id == record.id }
        #expect(stopped?.outcome == .replaced || stopped?.outcome == .interrupted, "\(String(describing: stopped))")
        #expect(runs.first { $0.id != record.id }?.outcome == .succeeded)
        let restore = try leafguard(["restore", "latest", "--to", d.dir.file("restored"), "--config", d.config])
        #expect(restore.status == 0 && sameTree(d.dir.file("planner-data"), d.dir.file("restored")), "\(restore.all)")
    }

    @Test func aTimedOutRunIsStoppedRecordedAndRetriedWithBackoff() throws {
        let d = try deployment("timeout: 0.02s\nretries: 1\nretry_backoff: 2m\n")
        // Enough new data that the backup outlasts 20 ms.
        try addDocument(to: d, megabytes: 24)
        #expect(try leafguard(["tick", "--now", "2026-03-01T00:00:00Z", "--config", d.config]).status == 0)
        let first = try leafguard(["tick", "--now", "2026-03-01T02:30:05Z", "--config", d.config])
        #expect(first.status == 1, "\(first.all)")
        #expect(first.stderr.contains("timed out after"))
        var runs = try catalog(d).history(job: "nightly")
        try #require(runs.map(\.outcome) == [.timedOut])
        #expect(runs[0].summary.contains("timeout"))
        // The retry waits two minutes, then runs as attempt 2; there is no third.
        #expect(try leafguard(["tick", "--now", "2026-03-01T02:31:30Z", "--config", d.config]).status == 0)
        #expect(try catalog(d).history(job: "nightly").count == 1)
        #expect(try leafguard(["tick", "--now", "2026-03-01T02:32:20Z", "--config", d.config]).status == 1)
        runs = try catalog(d).history(job: "nightly")
        try #require(runs.map(\.attempt) == [2, 1])
        #expect(runs[0].trigger == .retry && runs[0].outcome == .timedOut)
        #expect(try leafguard(["tick", "--now", "2026-03-01T03:00:00Z", "--config", d.config]).status == 0)
        #expect(try catalog(d).history(job: "nightly").count == 2)
        #expect(try catalog(d).runningRuns().isEmpty)
    }

    @Test func hooksGetTheRunSummaryAndNeverChangeTheOutcome() throws {
        let d = try deployment()
        let receiver = try HTTPReceiver()
        defer { receiver.stop() }
        let got = d.dir.file("hook-input.json")
        try d.dir.write(
            "jobs/nightly.yml",
            """
            name: nightly
            steps: [backup]
            on_success:
              - command: "cat > \(got); echo $LEAFGUARD_OUTCOME > \(got).outcome"
              - {url: "http://127.0.0.1:\(receiver.port)/ping/secret-uuid", timeout: 5s}
              - {command: "sleep 30", timeout: 1s}

            """)
        let t0 = Date()
        let r = try leafguard(["run", "nightly", "--config", d.config, "--log-level", "info"])
        #expect(r.status == 0, "\(r.all)")
        #expect(Date().timeIntervalSince(t0) < 20, "a hanging hook is stopped at its timeout")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: got))) as? [String: Any]
        #expect(summary?["job"] as? String == "nightly" && summary?["outcome"] as? String == "succeeded")
        #expect((summary?["steps"] as? [[String: Any]])?.first?["step"] as? String == "backup")
        #expect(try String(contentsOfFile: got + ".outcome", encoding: .utf8) == "succeeded\n")
        let posted = try #require(receiver.waitForRequest())
        #expect(posted.hasPrefix("POST /ping/secret-uuid"))
        #expect(posted.lowercased().contains("content-type: application/json") && posted.contains("\"outcome\":\"succeeded\""))
        #expect(r.stderr.contains("stopped after its 1s timeout"))
        #expect(!r.stderr.contains("secret-uuid"), "a hook URL's path is not logged")
        #expect(try catalog(d).lastRun(job: "nightly")?.outcome == .succeeded)
    }

    @Test func metricsFileHistoryAndJobsList() throws {
        let d = try deployment()
        try d.dir.write("leafguard.yml", ConfigFixture.validConfig + "history: {keep: 3}\n")
        for _ in 0..<4 { #expect(try leafguard(["run", "nightly", "--config", d.config]).status == 0) }
        try d.dir.write("jobs/broken.yml", "name: broken\nsteps: [{verify: {region: backup}}]\n")
        #expect(try leafguard(["run", "broken", "--config", d.config]).status == 1)
        #expect(try catalog(d).history(job: "nightly").count == 3, "history keeps 3 runs per job")

        let text = try String(contentsOfFile: d.dir.file("state/metrics/leafguard.prom"), encoding: .utf8)
        let sample = try Regex(#"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? -?[0-9.e+]+$"#)
        var typed = Set<String>()
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# TYPE ") { typed.insert(line.split(separator: " ")[2].description); continue }
            if line.hasPrefix("# HELP ") { continue }
            #expect(line.wholeMatch(of: sample) != nil, "not Prometheus text: \(line)")
            #expect(typed.contains(String(line.prefix { $0 != "{" && $0 != " " })), "sample before its TYPE: \(line)")
        }
        #expect(text.contains("leafguard_job_last_succeeded{job=\"nightly\"} 1"))
        #expect(text.contains("leafguard_job_last_succeeded{job=\"broken\"} 0"))
        #expect(text.contains("leafguard_job_last_outcome{job=\"broken\",outcome=\"failed\"} 1"))
        #expect(text.range(of: #"leafguard_job_last_bytes\{job="nightly"\} [0-9]+"#, options: .regularExpression) != nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: d.dir.file("state/metrics")) == ["leafguard.prom"])

        let h = try leafguard(["history", "nightly", "--json", "--config", d.config])
        let runs = try JSONSerialization.jsonObject(with: Data(h.stdout.utf8)) as? [[String: Any]]
        #expect(runs?.count == 3 && runs?.first?["outcome"] as? String == "succeeded")
        #expect((runs?.first?["steps"] as? [[String: Any]])?.first?["figures"] != nil)
        let human = try leafguard(["history", "--config", d.config])
        #expect(human.stdout.contains("broken") && human.stdout.contains("failed"))
        let list = try leafguard(["jobs", "list", "--json", "--config", d.config])
        let jobs = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
        let nightly = jobs?.first { $0["name"] as? String == "nightly" }
        #expect(nightly?["last_outcome"] as? String == "succeeded" && nightly?["next"] != nil && nightly?["timezone"] as? String == "UTC")
        #expect(jobs?.first { $0["name"] as? String == "broken" }?["last_outcome"] as? String == "failed")
    }

    @Test func theCronFolderIsWhatCronPrintGenerates() throws {
        let d = try DeploymentFixture()
        try FileManager.default.removeItem(atPath: d.dir.file("jobs"))
        try FileManager.default.copyItem(atPath: packageRoot + "/jobs", toPath: d.dir.file("jobs"))
        let fixed = ["--config", d.config, "--config-path", "/etc/leafguard/leafguard.yml"]
        let cron = try leafguard(["cron", "print"] + fixed)
        #expect(cron.stdout == (try String(contentsOfFile: packageRoot + "/cron/leafguard.cron", encoding: .utf8)))
        for format in ["systemd", "kubernetes"] {
            let out = d.dir.file("units-\(format)")
            #expect(try leafguard(["cron", "print", "--format", format, "--out", out] + fixed).status == 0)
            let shipped = packageRoot + "/cron/" + format
            #expect(filesBelow(out) == filesBelow(shipped))
            for name in filesBelow(out) {
                #expect(
                    FileManager.default.contentsEqual(atPath: out + "/" + name, andPath: shipped + "/" + name),
                    "cron/\(format)/\(name) is stale; regenerate it with leafguard cron print")
            }
        }
        // systemd accepts every calendar expression, when systemd-analyze is here to ask.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") {
            for name in filesBelow(packageRoot + "/cron/systemd") where name.hasSuffix(".timer") {
                let text = try String(contentsOfFile: packageRoot + "/cron/systemd/" + name, encoding: .utf8)
                for line in text.split(separator: "\n") where line.hasPrefix("OnCalendar=") {
                    let r = try runCommand("/usr/bin/systemd-analyze", ["calendar", String(line.dropFirst(11))])
                    #expect(r.status == 0, "\(name): \(r.all)")
                }
            }
        }
    }
}

/// The signals pending for a process (/proc/PID/status ShdPnd and SigPnd).
func pendingSignals(_ pid: Int32) -> Set<Int32> {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return [] }
    var out = Set<Int32>()
    for line in text.split(separator: "\n") where line.hasPrefix("ShdPnd:") || line.hasPrefix("SigPnd:") {
        let mask = UInt64(line.split(separator: "\t").last ?? "0", radix: 16) ?? 0
        for s in 1...64 where mask & (1 << UInt64(s - 1)) != 0 { out.insert(Int32(s)) }
    }
    return out
}

/// A one-request HTTP server on loopback (python's http.server), recording what it got.
final class HTTPReceiver {
    let process = Process()
    let port: Int
    let log: String

    /// Where the request is written; removed with the receiver.
    let folder = TemporaryDirectory("leafguard-receiver")

    init() throws {
        log = folder.file("request.txt")
        let script = """
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                    with open(sys.argv[1] + '.part', 'wb') as f:
                        f.write((self.requestline + '\\r\\n' + str(self.headers)).encode() + body)
                    import os; os.rename(sys.argv[1] + '.part', sys.argv[1])
                    self.send_response(200); self.end_headers()
                def log_message(self, *a): pass
            s = http.server.HTTPServer(('127.0.0.1', 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, log]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) { line.append(out.fileHandleForReading.availableData) }
        port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    func waitForRequest(seconds: Double = 10) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let d = FileManager.default.contents(atPath: log) { return String(decoding: d, as: UTF8.self) }
            usleep(20_000)
        }
        return nil
    }

    func stop() { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
}
