import Foundation
import LeafFiles
import LeafTime

/// The scan's outputs, one function per format.
public enum ComplianceOutput {
    /// The JSON report as text (for tests and small reports; files use `writeJSON`).
    public static func json(_ r: ComplianceReport) throws -> String {
        let sink = ReportSink.memory()
        try writeJSON(r, to: sink)
        try sink.finish()
        return String(decoding: sink.bytes, as: UTF8.self)
    }

    /// The JSON report: every member but `findings` as JSONEncoder writes them (sorted,
    /// indented), then `findings`, one compact object per line, streamed: a scan of a
    /// million users has millions of findings, and a document tree of them would not fit
    /// in the memory a scan may use. The caller finishes the sink.
    public static func writeJSON(_ r: ComplianceReport, to sink: ReportSink) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        e.userInfo[ComplianceReport.withoutFindings] = true
        var head = String(decoding: try e.encode(r), as: UTF8.self)
        // The head ends with "\n}"; the findings member goes before the brace.
        guard head.hasSuffix("\n}") else { throw ComplianceError(message: "unexpected JSON layout") }
        head.removeLast(2)
        try sink.write(head)
        sink.put(",\n  \"findings\" : [")
        var first = true
        for f in r.findings {
            if first { sink.put("\n    {\"rule\":\"") } else { sink.put(",\n    {\"rule\":\"") }
            first = false
            try sink.write(f.rule)
            sink.put("\",\"severity\":\"")
            try sink.write(f.severity.rawValue)
            sink.put("\",\"account_id\":")
            if let a = f.accountID { sink.put(a) } else { sink.put("null") }
            sink.put(",\"user_id\":")
            sink.put(f.userID)
            sink.put(",\"detail\":")
            try sink.writeJSONString(f.detail)
            sink.put("}")
        }
        sink.put(first ? "]\n}\n" : "\n  ]\n}\n")
    }

    /// The report a previous scan left in `directory`, for the trend: its summary, from
    /// the manifest when it has one (reading millions of findings back only for counts
    /// would cost more than the scan), else from compliance.json; nil if none or unreadable.
    public static func previous(in directory: String) -> ComplianceReport? {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .timestamp
        if let data = FileManager.default.contents(atPath: directory + "/manifest.json"),
            let m = try? d.decode(PreviousScan.self, from: data), let summary = m.summary, let totals = m.totals
        {
            return ComplianceReport(asOf: m.asOf, totals: totals, summary: summary, findings: [], rowsRead: [:])
        }
        guard let data = FileManager.default.contents(atPath: directory + "/compliance.json") else { return nil }
        return try? d.decode(ComplianceReport.self, from: data)
    }

    /// What a manifest says of its scan.
    struct PreviousScan: Decodable {
        let asOf: String
        let totals: ComplianceReport.Totals?
        let summary: [String: ComplianceReport.RuleSummary]?
        enum CodingKeys: String, CodingKey {
            case asOf = "as_of"
            case totals, summary
        }
    }

    /// One row per finding; fields quoted where needed (RFC 4180), for spreadsheets.
    public static func csv(_ r: ComplianceReport) -> String {
        let sink = ReportSink.memory()
        try? writeCSV(r, to: sink)
        try? sink.finish()
        return String(decoding: sink.bytes, as: UTF8.self)
    }

    /// Writes the findings as CSV (RFC 4180, CRLF lines, quoted where needed) to `sink`.
    public static func writeCSV(_ r: ComplianceReport, to sink: ReportSink) throws {
        sink.put("rule,severity,account_id,user_id,detail,as_of\r\n")
        let tail = "," + r.asOf + "\r\n"
        for f in r.findings {
            try sink.write(f.rule)
            sink.put(",")
            try sink.write(f.severity.rawValue)
            sink.put(",")
            if let a = f.accountID { sink.put(a) }
            sink.put(",")
            sink.put(f.userID)
            sink.put(",")
            try sink.writeCSVField(f.detail)
            try sink.write(tail)
        }
    }

    /// A short summary for chat or email.
    public static func markdown(_ r: ComplianceReport) -> String {
        let t = r.totals
        let adoption = t.activeUsers == 0 ? 0 : Double(t.activeUsersWithMFA) * 100 / Double(t.activeUsers)
        var out = "# Compliance scan, \(r.asOf)\n\n"
        out += "\(t.accounts) accounts, \(t.activeUsers) active users; MFA adoption \(String(format: "%.1f", adoption)) %.\n\n"
        out += "| severity | findings |\n|---|---:|\n"
        for s in Severity.allCases { out += "| \(s.rawValue) | \(r.count(s)) |\n" }
        out += "\n| rule | severity | findings | SOC 2 |\n|---|---|---:|---|\n"
        for rule in ComplianceRule.allCases {
            out += "| \(rule.rawValue) | \(rule.severity.rawValue) | \(r.summary[rule.rawValue]?.count ?? 0) | \(rule.controls.joined(separator: ", ")) |\n"
        }
        if !r.excepted.isEmpty {
            out += "\n## Excepted (accepted risk, listed apart)\n\n| rule | account | user | owner | reason | expires |\n|---|---:|---:|---|---|---|\n"
            let f = ISO8601DateFormatter()
            for e in r.excepted {
                out +=
                    "| \(e.finding.rule) | \(e.finding.accountID.map(String.init) ?? "-") | \(e.finding.userID) | \(e.exception.owner) | \(e.exception.reason) | \(f.string(from: e.exception.expires)) |\n"
            }
        }
        if !r.expiredExceptions.isEmpty {
            out += "\n\(r.expiredExceptions.count) exception(s) had expired by this scan; their findings count again: "
            out += r.expiredExceptions.map { "\($0.rule) user \($0.userID) (\($0.owner))" }.joined(separator: ", ") + ".\n"
        }
        out += "\nNote: \(ComplianceRule.nistNote)\n"
        return out
    }
}

/// Where a report's bytes go: memory, a file (written beside its name, synced and renamed
/// by `finish`, so it appears whole or not at all) or standard output; through a 1 MiB
/// buffer, with appends for the pieces reports are made of, so that millions of findings
/// are written without a String per field.
public final class ReportSink {
    private enum Target {
        case memory
        case file(OutputFile)
        case standardOutput
    }
    private var target: Target
    private var buffer: [UInt8] = []
    /// Everything written, for a memory sink.
    public private(set) var bytes: [UInt8] = []

    /// A sink that keeps what is written in `bytes`.
    public static func memory() -> ReportSink { ReportSink(.memory) }
    /// A sink that writes to standard output.
    public static func standardOutput() -> ReportSink { ReportSink(.standardOutput) }

    /// A sink writing `name` in `folder` through a new temporary file there (O_EXCL,
    /// O_NOFOLLOW, 0600), renamed into place by `finish`.
    public convenience init(folder: OutputFolder, name: String) throws {
        self.init(.file(try folder.create(name)))
    }

    private init(_ target: Target) {
        self.target = target
        buffer.reserveCapacity(1 << 20)
    }

    /// Appends a literal without making a String of it.
    @inline(__always) public func put(_ s: StaticString) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends `s`, writing the buffer out once it passes 1 MiB.
    public func write(_ s: String) throws {
        var s = s
        s.withUTF8 { buffer.append(contentsOf: $0) }
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// A decimal integer.
    public func put(_ n: Int64) {
        if n < 0 { buffer.append(UInt8(ascii: "-")) }
        var v = n.magnitude
        var digits:
            (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat { d[19 - count] = UInt8(v % 10) + 48; v /= 10; count += 1 } while v > 0
            buffer.append(contentsOf: d[(20 - count)...])
        }
    }

    /// `s` as a JSON string literal (RFC 8259 escapes).
    public func writeJSONString(_ s: String) throws {
        var s = s
        s.withUTF8 { u in
            buffer.append(UInt8(ascii: "\""))
            if !u.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c }) {
                buffer.append(contentsOf: u)
            } else {
                for b in u {
                    switch b {
                    case 0x22: buffer.append(contentsOf: [0x5c, 0x22])
                    case 0x5c: buffer.append(contentsOf: [0x5c, 0x5c])
                    case 0x0a: buffer.append(contentsOf: [0x5c, UInt8(ascii: "n")])
                    case 0x0d: buffer.append(contentsOf: [0x5c, UInt8(ascii: "r")])
                    case 0x09: buffer.append(contentsOf: [0x5c, UInt8(ascii: "t")])
                    case ..<0x20: buffer.append(contentsOf: Array(String(format: "\\u%04x", b).utf8))
                    default: buffer.append(b)
                    }
                }
            }
            buffer.append(UInt8(ascii: "\""))
        }
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// `s` as a CSV field: quoted, with doubled quotes, when it holds a comma, quote or line break (RFC 4180).
    public func writeCSVField(_ s: String) throws {
        var s = s
        s.withUTF8 { u in
            if !u.contains(where: { $0 == 0x2c || $0 == 0x22 || $0 == 0x0a || $0 == 0x0d }) { buffer.append(contentsOf: u); return }
            buffer.append(0x22)
            for b in u { if b == 0x22 { buffer.append(0x22) }; buffer.append(b) }
            buffer.append(0x22)
        }
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Writes out what is buffered.
    public func flush() throws {
        switch target {
        case .memory: bytes.append(contentsOf: buffer)
        case .file(let file): try buffer.withUnsafeBytes { try file.write($0) }
        case .standardOutput:
            fflush(nil)  // what print() buffered goes first
            try writeAll(1, buffer, name: "standard output")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes; a file is then synced and given its name.
    public func finish() throws {
        try flush()
        guard case .file(let file) = target else { return }
        target = .memory
        try file.commit()
    }
}

private func writeAll(_ fd: Int32, _ bytes: [UInt8], name: String) throws {
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { raw in raw.baseAddress.map { Foundation.write(fd, $0 + done, raw.count - done) } ?? 0 }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw ComplianceError(message: "cannot write \(name): \(String(cString: strerror(errno)))") }
        done += n
    }
}
