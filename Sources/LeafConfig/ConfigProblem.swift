import Foundation
import LeafConcurrency

/// One thing wrong with a configuration or job file, located to the line and column.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// The file the problem is in.
    public let file: String
    /// Its line (1-based), when known.
    public let line: Int?
    /// Its column (1-based), when known.
    public let column: Int?
    /// What is wrong.
    public let message: String
    /// What would be valid, when that can be said.
    public let hint: String?

    /// A problem at `file:line:column` (each part optional).
    public init(file: String, line: Int? = nil, column: Int? = nil, message: String, hint: String? = nil) {
        self.file = file; self.line = line; self.column = column; self.message = message; self.hint = hint
    }

    /// `FILE:LINE:COLUMN: message; hint`, as commands print it.
    public var description: String {
        var place = file
        if let line { place += ":\(line)" }
        if let column { place += ":\(column)" }
        return "\(place): \(message)" + (hint.map { "; \($0)" } ?? "")
    }
}

/// A configuration that cannot be used, with every problem found. Commands exit with status 2.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// Every problem found, in the order found.
    public let problems: [ConfigProblem]
    /// The part of a configuration with problems that could be read (its regions and jobs
    /// folder), for checking job files against; never used to run anything.
    public var salvaged: LeafguardConfig?
    /// An error carrying `problems`.
    public init(_ problems: [ConfigProblem]) { self.problems = problems }
    /// An error with one problem that has no line (a file missing or incomplete).
    public init(file: String, message: String, hint: String? = nil) {
        problems = [ConfigProblem(file: file, message: message, hint: hint)]
    }
    /// One line per problem.
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Collects problems while a file is read, so one run reports all of them.
public final class Diagnostics: Sendable {
    private let found = Locked<[ConfigProblem]>([])
    /// What was found so far.
    public var problems: [ConfigProblem] { found.value }
    /// An empty collection.
    public init() {}
    /// Records one more problem.
    public func add(_ p: ConfigProblem) { found.withLock { $0.append(p) } }
    /// Whether nothing was found.
    public var isEmpty: Bool { problems.isEmpty }
    /// Throws a `ConfigurationError` with every problem found, if any.
    public func throwIfAny() throws { if !problems.isEmpty { throw ConfigurationError(problems) } }
}

/// The closest candidate by edit distance, for "did you mean" hints.
func closest(to word: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
    let w = Array(word.lowercased())
    let best = candidates.map { ($0, distance(w, Array($0.lowercased()))) }.min { $0.1 < $1.1 }
    guard let best, best.1 <= max(2, word.count / 3) else { return nil }
    return best.0
}
