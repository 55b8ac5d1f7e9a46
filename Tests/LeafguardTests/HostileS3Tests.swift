import Foundation
import LeafJobs
import LeafStorage
import LeafTestSupport
import Testing

@testable import LeafS3

/// An S3 endpoint whose replies an attacker controls (Tests/Tools/hostile-s3.py), issue 29
/// defects 6, 7, 8 and 12: every reply, however shaped, ends in a clear error or a result,
/// in time and memory bounded by the reply, never a loop, a hang or a forged log line.
@Suite struct HostileS3Tests {
    final class HostileServer {
        let process: Process
        let port: Int
        init(many: Int = 50_000) throws {
            (process, port) = try MotoServer.start { port in [packageRoot + "/Tests/Tools/hostile-s3.py", String(port), String(many)] }
        }
        var endpoint: String { "http://127.0.0.1:\(port)" }
        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }

        /// A store of `bucket`, through leafguard's plain HTTP or URLSession, with a short
        /// pace: 5 s idle, 60 s in all, 1,000 bytes/s after 1 s.
        func store(_ bucket: String, plainHTTP: Bool = true) throws -> S3Store {
            S3Store(
                name: "hostile/\(bucket)",
                client: S3Client(
                    endpoint: S3Endpoint(url: URL(string: endpoint)!, region: "us-east-1", pathStyle: true),
                    credentials: try AWSCredentials(accessKeyID: "a", secretAccessKey: "b"), maxConnections: 4, timeout: 5, deadline: 60,
                    maximumResponseBytes: 1 << 30, plainHTTP: plainHTTP, minimumRate: 1000, rateGrace: 1),
                location: S3Location(bucket: bucket, prefix: ""))
        }
    }

    /// Defect 6: always truncated with the same token used to mean requests without end and
    /// growing memory; a truncated page without a token is refused too.
    @Test(.timeLimit(.minutes(1))) func aListingThatNeverEndsIsRefused() throws {
        let server = try HostileServer(many: 10)
        #expect { _ = try server.store("loop").list(prefix: "snapshots/") } throws: { e in
            guard case StorageError.io(let l, _, let reason) = e else { return false }
            return l == "hostile/loop" && reason.contains("continuation token 'same-token' a second time")
        }
        #expect { _ = try server.store("notoken").list(prefix: "snapshots/") } throws: { "\($0)".contains("gives no continuation token") }
    }

    /// Defect 7: one page of 50,000 keys (3 MB) took minutes, quadratic in the reply; it is
    /// read in one pass now (the time limit is far above the seconds it takes).
    @Test(.timeLimit(.minutes(1))) func aLargeListingIsReadInLinearTime() throws {
        let server = try HostileServer(many: 50_000)
        for plainHTTP in [true, false] {
            let names = try server.store("many", plainHTTP: plainHTTP).list(prefix: "snapshots/")
            #expect(names.count == 50_000 && names.first == "snapshots/" + String(repeating: "0", count: 40))
        }
        // Entities are decoded, once each, and elements are read in order.
        #expect(xmlValues("Key", in: "<Key>a&amp;lt;b</Key><Key>&lt;&gt;&quot;&apos;&amp;</Key><Key>x&y</Key>") == ["a&lt;b", "<>\"'&", "x&y"])
        #expect(xmlValue("Code", in: "<Code>first</Code><Code>second</Code>") == "first")
    }

    /// Defect 8: a server sending one byte every 0.2 s, or announcing a gigabyte and sending
    /// ten bytes, held a request until its deadline (900 s) and then was retried; the
    /// minimum rate ends it once the grace has passed, on both transports. A body in
    /// one-byte chunks is read in time linear in its size.
    @Test(.timeLimit(.minutes(2))) func slowRepliesAreCutOffByTheMinimumRate() throws {
        let server = try HostileServer()
        for plainHTTP in [true, false] {
            let store = try server.store("slow", plainHTTP: plainHTTP)
            for key in ["trickle", "liar"] {
                #expect("\(key) plainHTTP=\(plainHTTP)") { _ = try store.get(key) } throws: { e in
                    guard case StorageError.transient(_, _, let reason) = e else { return false }
                    return reason.contains("slower than the minimum 1000 bytes/s")
                }
            }
        }
        #expect(try server.store("slow").get("chunky") == [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20))
        // The standard pace: 16 KiB/s after 20 s, 15 minutes in all, 60 s idle.
        let pace = TransferPace.standard
        let t0 = Date(timeIntervalSince1970: 0)
        #expect(pace.failure(bytes: 0, start: t0, now: t0 + 19) == nil)
        #expect(pace.failure(bytes: 10, start: t0, now: t0 + 21)?.contains("slower than the minimum 16384 bytes/s") == true)
        #expect(pace.failure(bytes: 1 << 40, start: t0, now: t0 + 900)?.contains("deadline") == true)
        #expect(pace.wait(bytes: 0, start: t0, now: t0) == 20 && pace.wait(bytes: 1 << 30, start: t0, now: t0) == 60)
    }

    /// Defect 12: an S3 error message holding a newline and an escape sequence printed a
    /// forged log line and a raw escape in the human log format. Through the CLI, with the
    /// backup region on the hostile endpoint.
    @Test func aHostileErrorMessageIsOneLineWithoutEscapes() throws {
        let server = try HostileServer(many: 1)
        let d = try S3FaultTests().deployment(backupEndpoint: server.endpoint)
        let env = ProcessInfo.processInfo.environment.merging(["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"]) { $1 }
        for format in ["human", "json"] {
            let r = try leafguard(["run", "nightly", "--config", d.config, "--log-format", format], environment: env)
            #expect(r.status != 0, "\(r.all)")
            #expect(r.stderr.contains("AccessDenied"), "\(format): the error is reported: \(r.stderr)")
            #expect(!r.stderr.unicodeScalars.contains("\u{1b}"), "\(format): a raw escape reached the log")
            let forged = r.stderr.split(separator: "\n").filter { $0.hasPrefix("2026-12-07T00:00:00Z info forged line") }
            #expect(forged.isEmpty, "\(format): a forged line: \(forged)")
        }
        // The handler itself: every control character escaped, text otherwise as it was.
        #expect(StandardErrorLogHandler.escape("a\nb\u{1b}[31m\tc\\d é") == "a\\nb\\u{1b}[31m\\tc\\\\d é")
        #expect(StandardErrorLogHandler.escape("plain words") == "plain words")
    }

    /// Issue 31, point 4: a conditional PUT that meets a concurrent one (409
    /// ConditionalRequestConflict) is asked again, not taken for "already there"; a name that
    /// did get stored (412) counts as written when it holds the same bytes, and is never
    /// overwritten when it holds others.
    @Test(.timeLimit(.minutes(1))) func aConditionalWriteConflictIsRetriedNeverOverwritten() throws {
        let server = try HostileServer(many: 10)
        let store = RetryingStore(try server.store("racing"), policy: RetryPolicy(attempts: 4, base: 0))
        try store.put("data/ab/one", Array("first".utf8))
        #expect(try store.get("data/ab/one") == Array("first".utf8))
        // A second write of the same name with other bytes: refused, the stored bytes stay.
        #expect { try store.put("data/ab/one", Array("other".utf8)) } throws: { e in
            if case StorageError.alreadyExists = e { return true }
            return false
        }
        #expect(try store.get("data/ab/one") == Array("first".utf8))
        // Without retries the 409 is a transient failure, never "already exists".
        #expect { try server.store("racing").put("data/ab/two", Array("x".utf8)) } throws: { e in
            if case StorageError.transient(_, _, let reason) = e { return reason.contains("ConditionalRequestConflict") }
            return false
        }
    }

    /// Issue 31, point 4: every put carries its SHA-256 (`x-amz-checksum-sha256`), and a GET
    /// whose bytes differ from the checksum S3 stored with them is a transient failure.
    @Test(.timeLimit(.minutes(1))) func bytesChangedOnTheWayAreCaughtByTheStoredChecksum() throws {
        let server = try HostileServer(many: 10)
        #expect { _ = try server.store("racing").get("data/ab/bent") } throws: { e in
            if case StorageError.transient(_, _, let reason) = e { return reason.contains("x-amz-checksum-sha256") }
            return false
        }
    }
}
