import Foundation
import LeafCompliance

/// A format the posture report is written in (`posture.FORMAT`).
public enum PostureFormat: String, Sendable, CaseIterable {
    case json, html, md
}

/// The posture report's three forms: JSON for monitoring, Markdown for chat, one
/// self-contained HTML page for people.
public enum PostureOutput {
    /// The report as pretty-printed JSON with sorted keys and ISO 8601 dates, for monitoring and auditors.
    public static func json(_ r: PostureReport) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return String(decoding: try e.encode(r), as: UTF8.self) + "\n"
    }

    static func mark(_ v: Verdict) -> String { v == .pass ? "PASS" : (v == .warn ? "WARN" : "FAIL") }

    /// The report as Markdown: the banner and date, then a table of the promises with their verdicts and reasons.
    public static func markdown(_ r: PostureReport) -> String {
        var out =
            "# Security posture: \(mark(r.verdict))\n\n\(ISO8601DateFormatter().string(from: r.generated)); failures and missed runs over \(Int(r.periodDays)) days.\n\n"
        out += "| promise | verdict | why |\n|---|---|---|\n"
        for p in r.promises {
            out +=
                "| \(p.title) | \(mark(p.verdict)) | \(p.reasons.isEmpty ? "" : p.reasons.joined(separator: "; ").replacingOccurrences(of: "|", with: "/")) |\n"
        }
        return out
    }

    /// The report as one self-contained HTML page (inline CSS and SVG trend charts, no scripts).
    public static func html(_ r: PostureReport) -> String {
        let esc = ComplianceOutput.esc
        func color(_ v: Verdict) -> String {
            switch v {
            case .pass: return "#188038"
            case .warn: return "#c9a400"
            case .fail: return "#b3261e"
            }
        }
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Security posture \(esc(ISO8601DateFormatter().string(from: r.generated)))</title>
            <style>
            body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:64rem;color:#202124;padding:0 1rem}
            .banner{color:#fff;border-radius:8px;padding:1rem 1.4rem;font-size:1.4rem;font-weight:600}
            h2{font-size:1.15rem;margin:1.6rem 0 .3rem} .v{font-weight:700;margin-left:.5rem} .muted{color:#5f6368}
            ul{margin:.3rem 0} li{margin:.15rem 0} .why{color:#b3261e} .charts{display:flex;gap:1.5rem;flex-wrap:wrap}
            figure{margin:0} figcaption{font-size:.85rem;color:#5f6368}
            </style></head><body>
            <div class="banner" style="background:\(color(r.verdict))">Security posture: \(mark(r.verdict))</div>
            <p class="muted">Generated \(esc(ISO8601DateFormatter().string(from: r.generated))); runs over the last \(Int(r.periodDays)) days. Each promise of the security page, with the live evidence behind its verdict.</p>

            """
        let charts = [
            ("recovery_point_hours", "Recovery point (hours) at each snapshot"), ("mfa_adoption_percent", "MFA adoption (%) at each scan"),
            ("findings", "Open findings at each scan"),
        ]
        let drawn = charts.compactMap { key, caption in r.trends[key].flatMap { $0.count >= 2 ? sparkline($0, caption: caption) : nil } }
        if !drawn.isEmpty { h += "<div class=\"charts\">\n" + drawn.joined(separator: "\n") + "\n</div>\n" }
        for p in r.promises {
            h += "<h2>\(esc(p.title))<span class=\"v\" style=\"color:\(color(p.verdict))\">\(mark(p.verdict))</span></h2>\n<ul>\n"
            for line in p.evidence { h += "<li>\(esc(line))</li>\n" }
            for why in p.reasons { h += "<li class=\"why\" style=\"color:\(why.hasPrefix("warn") ? "#9a7b00" : "#b3261e")\">\(esc(why))</li>\n" }
            h += "</ul>\n"
        }
        return h + "</body></html>\n"
    }

    /// A small inline SVG line chart with its last value.
    static func sparkline(_ points: [TrendPoint], caption: String) -> String {
        let w = 280.0
        let ht = 70.0
        let values = points.map(\.value)
        let lo = min(0, values.min() ?? 0)
        let hi = max(values.max() ?? 0, lo + 1)
        let path = points.enumerated().map { i, p in
            let x = 4 + (w - 8) * Double(i) / Double(points.count - 1)
            let y = ht - 4 - (ht - 8) * (p.value - lo) / (hi - lo)
            return "\(i == 0 ? "M" : "L")\(String(format: "%.1f", x)) \(String(format: "%.1f", y))"
        }.joined(separator: " ")
        return """
            <figure><svg width="\(Int(w))" height="\(Int(ht))" viewBox="0 0 \(Int(w)) \(Int(ht))" role="img" aria-label="\(ComplianceOutput.esc(caption))">\
            <rect width="\(Int(w))" height="\(Int(ht))" fill="#f8f9fa"/><path d="\(path)" fill="none" stroke="#1a73e8" stroke-width="2"/>\
            <text x="4" y="12" font-size="10" fill="#5f6368">\(String(format: "%.1f", hi))</text><text x="4" y="\(Int(ht) - 3)" font-size="10" fill="#5f6368">\(String(format: "%.1f", lo))</text></svg>\
            <figcaption>\(ComplianceOutput.esc(caption)): now \(String(format: "%.1f", values.last ?? 0))</figcaption></figure>
            """
    }

    /// The report in format `format`.
    public static func text(_ r: PostureReport, _ format: PostureFormat) throws -> String {
        switch format {
        case .json: return try json(r)
        case .html: return html(r)
        case .md: return markdown(r)
        }
    }

    /// Writes the formats asked into `directory`; returns the paths.
    public static func write(_ r: PostureReport, formats: [PostureFormat], to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [String] = []
        for f in formats {
            let path = directory + "/posture.\(f.rawValue)"
            let text = try self.text(r, f)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            written.append(path)
        }
        return written
    }
}
