import Foundation
import LeafTestSupport
import Testing

/// docs/json.md is what the commands print (issue 30, point 7): each command it shows runs
/// on a test deployment, and every key it prints is in the example, snake_case, with every
/// time RFC 3339 in UTC with `Z`.
@Suite struct JsonDocumentationTests {
    /// Objects whose keys are data (figure, region, table, job names), not fields: their
    /// keys are not compared, only that they are there.
    static let maps: Set<String> = ["figures", "rows", "regions", "seals", "keys_under_several_versions", "unreadable_keys", "data_keys"]

    /// (command words, example) for each `## \`leafguard …\`` section, in order.
    func examples() throws -> [(words: [String], example: Any)] {
        let text = try String(contentsOfFile: packageRoot + "/docs/json.md", encoding: .utf8)
        var out: [(words: [String], example: Any)] = []
        let sections = text.components(separatedBy: "\n## `leafguard ").dropFirst()
        for section in sections {
            let command = String(section.prefix { $0 != "`" })
            let start = try #require(section.range(of: "```json\n"), "no example for \(command)")
            let end = try #require(section[start.upperBound...].range(of: "\n```"))
            let example = try JSONSerialization.jsonObject(with: Data(section[start.upperBound..<end.lowerBound].utf8), options: [.fragmentsAllowed])
            out.append((command.split(separator: " ").map { String($0).replacingOccurrences(of: "'", with: "") }, example))
        }
        return out
    }

    /// Every key path of `value` (`a.b`, arrays as `[]`), maps of `maps` not entered.
    func paths(_ value: Any, _ prefix: String = "") -> Set<String> {
        var out: Set<String> = []
        if let object = value as? [String: Any] {
            for (key, v) in object {
                let path = prefix.isEmpty ? key : prefix + "." + key
                out.insert(path)
                if !Self.maps.contains(key) { out.formUnion(paths(v, path)) }
            }
        } else if let array = value as? [Any] {
            for v in array { out.formUnion(paths(v, prefix + "[]")) }
        }
        return out
    }

    /// Problems of style in `value`: keys that are not snake_case, times not in RFC 3339 UTC.
    func styleProblems(_ value: Any, _ path: String = "") -> [String] {
        var out: [String] = []
        if let object = value as? [String: Any] {
            for (key, v) in object {
                if key.range(of: #"^[a-z][a-z0-9_]*$"#, options: .regularExpression) == nil { out.append("\(path).\(key): not snake_case") }
                out += Self.maps.contains(key) ? [] : styleProblems(v, path + "." + key)
            }
        } else if let array = value as? [Any] {
            for v in array { out += styleProblems(v, path + "[]") }
        } else if let s = value as? String, s.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d"#, options: .regularExpression) != nil {
            if s.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"#, options: .regularExpression) == nil {
                out.append("\(path): time '\(s)' is not RFC 3339 UTC")
            }
        }
        return out
    }

    @Test func everyCommandPrintsWhatDocsJsonShows() throws {
        let f = try DisasterFixture()
        let all = try examples()
        #expect(all.count >= 20, "docs/json.md shows \(all.count) commands")
        let placeholders = [
            "SNAPSHOT": f.expected[2].id, "OLDER": f.expected[0].id, "ACCOUNT": "1", "JOB": "nightly",
        ]
        for (i, (words, example)) in all.enumerated() {
            let args = words.map { w -> String in
                if w == "DIR" { return f.file("json-doc-\(i)") }
                return placeholders[w] ?? w
            }
            let r = try f.run(args)
            #expect(r.status == 0, "leafguard \(words.joined(separator: " ")): \(r.all)")
            guard let output = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8), options: [.fragmentsAllowed]) else {
                Issue.record("leafguard \(words.joined(separator: " ")) printed no JSON: \(r.stdout.prefix(300))")
                continue
            }
            #expect((output is [Any]) == (example is [Any]), "\(words): an array in one, not the other")
            let undocumented = paths(output).subtracting(paths(example))
            #expect(undocumented.isEmpty, "leafguard \(words.joined(separator: " ")) prints keys docs/json.md does not show: \(undocumented.sorted())")
            #expect(styleProblems(output).isEmpty, "\(words): \(styleProblems(output))")
            #expect(styleProblems(example).isEmpty, "docs/json.md, \(words): \(styleProblems(example))")
        }
    }
}
