import Foundation

/// The scan's outputs, one function per format.
public enum ComplianceOutput {
    public static func json(_ r: ComplianceReport) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return String(decoding: try e.encode(r), as: UTF8.self) + "\n"
    }

    /// The report a previous scan left in `directory`, for the trend; nil if none or unreadable.
    public static func previous(in directory: String) -> ComplianceReport? {
        guard let data = FileManager.default.contents(atPath: directory + "/compliance.json") else { return nil }
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return try? d.decode(ComplianceReport.self, from: data)
    }

    /// One row per finding; fields quoted where needed (RFC 4180), for spreadsheets.
    public static func csv(_ r: ComplianceReport) -> String {
        func q(_ s: String) -> String { s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
        var out = "rule,severity,account_id,user_id,detail,as_of\r\n"
        for f in r.findings {
            out += [f.rule, f.severity.rawValue, f.accountID.map(String.init) ?? "", String(f.userID), q(f.detail), r.asOf].joined(separator: ",") + "\r\n"
        }
        return out
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
        for rule in ComplianceRule.allCases { out += "| \(rule.rawValue) | \(rule.severity.rawValue) | \(r.summary[rule.rawValue]?.count ?? 0) | \(rule.controls.joined(separator: ", ")) |\n" }
        if !r.excepted.isEmpty {
            out += "\n## Excepted (accepted risk, listed apart)\n\n| rule | account | user | owner | reason | expires |\n|---|---:|---:|---|---|---|\n"
            let f = ISO8601DateFormatter()
            for e in r.excepted {
                out += "| \(e.finding.rule) | \(e.finding.accountID.map(String.init) ?? "-") | \(e.finding.userID) | \(e.exception.owner) | \(e.exception.reason) | \(f.string(from: e.exception.expires)) |\n"
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
