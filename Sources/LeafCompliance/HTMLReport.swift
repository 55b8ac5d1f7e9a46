import Foundation

extension ComplianceOutput {
    /// One self-contained page for people: no external assets, charts as inline SVG.
    /// `previous` (the last scan's report, when there is one) gives the trend.
    public static func html(_ r: ComplianceReport, previous: ComplianceReport? = nil) -> String {
        func color(_ s: Severity) -> String {
            switch s {
            case .critical: return "#b3261e"
            case .high: return "#e8710a"
            case .medium: return "#c9a400"
            case .low: return "#5f6368"
            }
        }
        let t = r.totals
        let adoption = t.activeUsers == 0 ? 0 : Double(t.activeUsersWithMFA) * 100 / Double(t.activeUsers)
        // Counts come from the summaries: a previous scan may be known by its summary alone.
        func count(_ rep: ComplianceReport, _ s: Severity) -> Int { rep.summary.values.reduce(0) { $0 + ($1.severity == s ? $1.count : 0) } }
        let ruleCounts = { (rep: ComplianceReport) -> [String: Int] in rep.summary.mapValues(\.count) }
        let nowCounts = ruleCounts(r)
        let beforeCounts = previous.map(ruleCounts) ?? [:]
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Compliance scan \(esc(r.asOf))</title>
            <style>
            body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:64rem;color:#202124;padding:0 1rem}
            h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dadce0;padding-bottom:.3rem}
            .muted{color:#5f6368} .cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
            .card{border:1px solid #dadce0;border-radius:8px;padding:.8rem 1rem;min-width:9rem}
            .card b{display:block;font-size:1.8rem} table{border-collapse:collapse;width:100%;margin:.5rem 0}
            th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eee;vertical-align:top} th{background:#f8f9fa}
            .n{text-align:right;font-variant-numeric:tabular-nums} .sev{font-weight:600}
            .up{color:#b3261e} .down{color:#188038} details{margin:.3rem 0}
            </style></head><body>
            <h1>Compliance scan</h1>
            <p class="muted">As of \(esc(r.asOf)) · rules version \(r.rulesVersion) · \(t.accounts) accounts, \(t.users) users, \(t.activeUsers) active</p>
            <div class="cards">
            """
        for s in Severity.allCases {
            let now = count(r, s)
            var trend = ""
            if let p = previous {
                let d = now - count(p, s)
                trend =
                    d == 0
                    ? "<span class=\"muted\">±0 since last scan</span>"
                    : (d > 0 ? "<span class=\"up\">+\(d) since last scan</span>" : "<span class=\"down\">\(d) since last scan</span>")
            }
            h += "<div class=\"card\"><span class=\"sev\" style=\"color:\(color(s))\">\(s.rawValue)</span><b>\(now)</b>\(trend)</div>\n"
        }
        h +=
            "<div class=\"card\"><span class=\"sev\">MFA adoption</span><b>\(String(format: "%.1f", adoption)) %</b><span class=\"muted\">\(t.activeUsersWithMFA) of \(t.activeUsers) active users</span></div>\n</div>\n"
        if !r.excepted.isEmpty { h += "<p>\(r.excepted.count) finding(s) excepted as accepted risk (listed below, not counted above).</p>\n" }

        // Findings by rule: a horizontal bar chart.
        h += "<h2>Findings by rule</h2>\n"
        let rules = ComplianceRule.allCases
        let maxCount = max(1, nowCounts.values.max() ?? 1)
        let rowHeight = 22
        let labelWidth = 150
        let barWidth = 420
        h +=
            "<svg role=\"img\" aria-label=\"Findings by rule\" width=\"\(labelWidth + barWidth + 60)\" height=\"\(rules.count * rowHeight + 10)\" font-size=\"12\">\n"
        for (i, rule) in rules.enumerated() {
            let n = nowCounts[rule.rawValue] ?? 0
            let y = i * rowHeight + 5
            let w = n == 0 ? 0 : max(2, n * barWidth / maxCount)
            h += "<text x=\"0\" y=\"\(y + 14)\">\(rule.rawValue)</text>"
            h +=
                "<rect x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\"\(w)\" height=\"14\" fill=\"\(color(rule.severity))\"><title>\(rule.rawValue): \(n)</title></rect>"
            h += "<text x=\"\(labelWidth + w + 6)\" y=\"\(y + 14)\">\(n)</text>\n"
        }
        h += "</svg>\n"

        // Trend per rule.
        if let p = previous {
            h +=
                "<h2>Trend against the previous scan (\(esc(p.asOf)))</h2>\n<table><tr><th>rule</th><th class=\"n\">before</th><th class=\"n\">now</th><th class=\"n\">change</th></tr>\n"
            for rule in rules {
                let a = beforeCounts[rule.rawValue] ?? 0
                let b = nowCounts[rule.rawValue] ?? 0
                let d = b - a
                h +=
                    "<tr><td>\(rule.rawValue)</td><td class=\"n\">\(a)</td><td class=\"n\">\(b)</td><td class=\"n \(d > 0 ? "up" : (d < 0 ? "down" : "muted"))\">\(d > 0 ? "+" : "")\(d)</td></tr>\n"
            }
            h += "</table>\n"
        }

        // Where to start: accounts and users with the most findings.
        // Counted in one pass; only the ten largest are described.
        var perAccount: [Int64: Int] = [:]
        var perUser: [Int64: Int] = [:]
        for f in r.findings {
            if let a = f.accountID { perAccount[a, default: 0] += 1 }
            perUser[f.userID, default: 0] += 1
        }
        // The ten largest counts (ties: smaller id first), kept in one pass without sorting all.
        func top(_ counts: [Int64: Int]) -> [(Int64, Int)] {
            func before(_ a: (Int64, Int), _ b: (Int64, Int)) -> Bool { a.1 != b.1 ? a.1 > b.1 : a.0 < b.0 }
            var best: [(Int64, Int)] = []
            for (id, n) in counts {
                if best.count == 10, !before((id, n), best[9]) { continue }
                let at = best.firstIndex { before((id, n), $0) } ?? best.count
                best.insert((id, n), at: at)
                if best.count > 10 { best.removeLast() }
            }
            return best
        }
        let topAccounts = top(perAccount)
        let topUsers = top(perUser)
        let wantedAccounts = Set(topAccounts.map(\.0))
        let wantedUsers = Set(topUsers.map(\.0))
        var accountRules: [Int64: Set<String>] = [:]
        var accountWorst: [Int64: Severity] = [:]
        var userRules: [Int64: Set<String>] = [:]
        var firstOfRule: [String: [Finding]] = [:]
        for f in r.findings {
            if let a = f.accountID, wantedAccounts.contains(a) {
                accountRules[a, default: []].insert(f.rule)
                accountWorst[a] = max(accountWorst[a] ?? .low, f.severity)  // most severe (critical is greatest)
            }
            if wantedUsers.contains(f.userID) { userRules[f.userID, default: []].insert(f.rule) }
            if firstOfRule[f.rule, default: []].count < 200 { firstOfRule[f.rule, default: []].append(f) }
        }
        h += "<h2>Accounts with the most findings</h2>\n"
        if topAccounts.isEmpty {
            h += "<p class=\"muted\">No account-level findings.</p>\n"
        } else {
            h += "<table><tr><th>account</th><th class=\"n\">findings</th><th>worst</th><th>rules</th></tr>\n"
            for (account, n) in topAccounts {
                let worst = accountWorst[account] ?? .low
                h +=
                    "<tr><td>\(account)</td><td class=\"n\">\(n)</td><td class=\"sev\" style=\"color:\(color(worst))\">\(worst.rawValue)</td><td>\(esc((accountRules[account] ?? []).sorted().joined(separator: ", ")))</td></tr>\n"
            }
            h += "</table>\n"
        }
        h += "<h2>Users with the most findings</h2>\n<table><tr><th>user</th><th class=\"n\">findings</th><th>rules</th></tr>\n"
        for (user, n) in topUsers {
            h += "<tr><td>\(user)</td><td class=\"n\">\(n)</td><td>\(esc((userRules[user] ?? []).sorted().joined(separator: ", ")))</td></tr>\n"
        }
        h += "</table>\n"

        // Each rule: what it means and how to fix it, with its first findings.
        h += "<h2>Rules</h2>\n"
        for rule in rules {
            let total = nowCounts[rule.rawValue] ?? 0
            let fs = firstOfRule[rule.rawValue] ?? []
            h +=
                "<details\(total == 0 ? "" : " open")><summary><span class=\"sev\" style=\"color:\(color(rule.severity))\">\(rule.severity.rawValue)</span> <b>\(rule.rawValue)</b> — \(total) finding(s) · SOC 2 \(rule.controls.joined(separator: ", "))</summary>\n"
            h += "<p>\(esc(rule.meaning))</p><p><b>Fix:</b> \(esc(rule.fix))</p>\n"
            if !fs.isEmpty {
                h += "<table><tr><th>account</th><th>user</th><th>detail</th></tr>\n"
                for f in fs { h += "<tr><td>\(f.accountID.map(String.init) ?? "–")</td><td>\(f.userID)</td><td>\(esc(f.detail))</td></tr>\n" }
                if total > fs.count { h += "<tr><td colspan=\"3\" class=\"muted\">… \(total - fs.count) more in compliance.csv</td></tr>\n" }
                h += "</table>\n"
            }
            h += "</details>\n"
        }

        if !r.excepted.isEmpty || !r.expiredExceptions.isEmpty {
            h +=
                "<h2>Exceptions (accepted risk)</h2>\n<table><tr><th>rule</th><th>account</th><th>user</th><th>owner</th><th>reason</th><th>expires</th></tr>\n"
            let f = ISO8601DateFormatter()
            for e in r.excepted {
                h +=
                    "<tr><td>\(e.finding.rule)</td><td>\(e.finding.accountID.map(String.init) ?? "–")</td><td>\(e.finding.userID)</td><td>\(esc(e.exception.owner))</td><td>\(esc(e.exception.reason))</td><td>\(f.string(from: e.exception.expires))</td></tr>\n"
            }
            h += "</table>\n"
            if !r.expiredExceptions.isEmpty {
                h +=
                    "<p class=\"up\">Expired (their findings count again): "
                    + r.expiredExceptions.map { esc("\($0.rule) user \($0.userID), \($0.owner), expired \(f.string(from: $0.expires))") }.joined(
                        separator: "; ") + "</p>\n"
            }
        }
        h += "<h2>Notes</h2>\n<p>\(esc(ComplianceRule.nistNote))</p>\n"
        h +=
            "<p class=\"muted\">Rows read: " + r.rowsRead.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + ". Evidence: manifest.json beside this file.</p>\n"
        h += "</body></html>\n"
        return h
    }

    /// `s` with HTML's five special characters escaped, for text and attribute values.
    public static func esc(_ s: String) -> String {
        var o = ""
        o.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&#39;"
            default: o.append(c)
            }
        }
        return o
    }
}
