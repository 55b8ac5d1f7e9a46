import Foundation
import Yams

/// A YAML node with the file it came from, read through typed accessors that record a
/// located problem instead of failing on the first one.
public struct YAMLValue {
    let node: Node
    let file: String
    let diagnostics: Diagnostics
    /// Dotted path for messages, e.g. `regions.primary.locations`.
    public let path: String

    var line: Int? { node.mark?.line }
    var column: Int? { node.mark?.column }

    func problem(_ message: String, hint: String? = nil) {
        diagnostics.add(ConfigProblem(file: file, line: line, column: column, message: message, hint: hint))
    }

    var kindName: String {
        switch node {
        case .scalar(let s):
            if s.tag.rawValue == Tag.Name.null.rawValue || node.null != nil { return "null" }
            if Self.integer(s.string) != nil { return "a number" }
            if node.bool != nil { return "a boolean" }
            return "a string"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// A string scalar, or nil after recording a problem.
    public func string() -> String? {
        guard case .scalar(let s) = node, node.null == nil else {
            problem("\(path) must be a string, found \(kindName)"); return nil
        }
        return s.string
    }

    /// A plain scalar read as YAML writes whole numbers: an optional sign, then decimal
    /// digits (or 0x, 0o, 0b and a base), `_` allowed between digits; nil for anything
    /// else or a value past Int's range. Not Yams' own reading: it also takes YAML 1.1's
    /// base-60 `1:30:00` and traps on overflow in it (a 32-byte config stopped leafguard
    /// with SIGILL; found by the config fuzz target, kept in Fuzz/regressions/config).
    public static func integer(_ scalar: String) -> Int? {
        var text = Substring(scalar)
        guard text.utf8.count <= 80 else { return nil }
        var negative = false
        if let sign = text.first, sign == "-" || sign == "+" { negative = sign == "-"; text = text.dropFirst() }
        var radix = 10
        for (prefix, base) in [("0x", 16), ("0o", 8), ("0b", 2)] where text.hasPrefix(prefix) {
            radix = base
            text = text.dropFirst(2)
        }
        guard let first = text.first, first != "_", text.last != "_" else { return nil }
        let digits = text.filter { $0 != "_" }
        guard let magnitude = UInt64(digits, radix: radix) else { return nil }
        if negative {
            return magnitude <= UInt64(Int.max) + 1 ? Int(truncatingIfNeeded: 0 &- magnitude) : nil
        }
        return magnitude <= UInt64(Int.max) ? Int(magnitude) : nil
    }

    /// A whole number within `range`.
    public func int(in range: ClosedRange<Int> = Int.min...Int.max) -> Int? {
        guard case .scalar(let s) = node, let n = Self.integer(s.string) else {
            problem("\(path) must be a whole number, found \(kindName)", hint: "valid: \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        guard range.contains(n) else {
            problem("\(path) is \(n), out of range", hint: "valid: \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return n
    }

    /// A boolean; nil after recording a problem otherwise.
    public func bool() -> Bool? {
        guard case .scalar = node, let b = node.bool else {
            problem("\(path) must be true or false, found \(kindName)"); return nil
        }
        return b
    }

    /// A mapping whose keys are checked against the ones read, see `MappingReader.finish`.
    public func mapping() -> MappingReader? {
        guard case .mapping(let m) = node else {
            problem("\(path) must be a mapping, found \(kindName)"); return nil
        }
        return MappingReader(mapping: m, value: self)
    }

    /// The items of a list, each located; nil after recording a problem otherwise.
    public func sequence() -> [YAMLValue]? {
        guard case .sequence(let s) = node else {
            problem("\(path) must be a list, found \(kindName)"); return nil
        }
        return s.enumerated().map { YAMLValue(node: $1, file: file, diagnostics: diagnostics, path: "\(path)[\($0)]") }
    }

    /// One of `choices`.
    public func choice(_ choices: [String]) -> String? {
        guard let s = string() else { return nil }
        guard choices.contains(s) else {
            let guess = closest(to: s, in: choices).map { "did you mean '\($0)'? " } ?? ""
            problem("\(path) is '\(s)', which is not allowed", hint: "\(guess)valid: \(choices.joined(separator: ", "))")
            return nil
        }
        return s
    }

    /// Whether the value is YAML's null (`~`, `null` or nothing).
    public var isNull: Bool { node.null != nil }
    /// Records a problem located at this value.
    public func report(_ message: String, hint: String? = nil) { problem(message, hint: hint) }
}

/// Reads a YAML mapping key by key; `finish()` reports any key no one asked for,
/// naming the valid ones.
public final class MappingReader {
    private let mapping: Node.Mapping
    /// The mapping as a value, for reporting problems located at it.
    public let value: YAMLValue
    private var known: [String] = []

    init(mapping: Node.Mapping, value: YAMLValue) {
        self.mapping = mapping
        self.value = value
    }

    /// The value under `key`, or nil when absent. Reading a key marks it as known.
    public subscript(_ key: String) -> YAMLValue? {
        if !known.contains(key) { known.append(key) }
        for (k, v) in mapping where k.string == key {
            return YAMLValue(
                node: v, file: value.file, diagnostics: value.diagnostics,
                path: value.path.isEmpty ? key : "\(value.path).\(key)")
        }
        return nil
    }

    /// Declares keys as valid without reading them yet.
    public func allow(_ keys: [String]) { for k in keys where !known.contains(k) { known.append(k) } }

    /// The value under `key`, recording a problem when it is missing.
    public func required(_ key: String, hint: String? = nil) -> YAMLValue? {
        guard let v = self[key] else {
            let place = value.path.isEmpty ? "the file" : value.path
            value.problem("\(place) is missing the required key '\(key)'", hint: hint)
            return nil
        }
        return v
    }

    /// All keys present, in file order.
    public var keys: [String] { mapping.compactMap { $0.key.string } }

    /// Key-value pairs in file order.
    public var entries: [(String, YAMLValue)] {
        mapping.compactMap { k, v in
            k.string.map {
                (
                    $0,
                    YAMLValue(
                        node: v, file: value.file, diagnostics: value.diagnostics,
                        path: value.path.isEmpty ? $0 : "\(value.path).\($0)")
                )
            }
        }
    }

    /// Reports keys that were never read.
    public func finish() {
        for (k, _) in mapping {
            guard let name = k.string, !known.contains(name) else { continue }
            let guess = closest(to: name, in: known).map { "did you mean '\($0)'? " } ?? ""
            let place = value.path.isEmpty ? "top level" : value.path
            value.diagnostics.add(
                ConfigProblem(
                    file: value.file, line: k.mark?.line, column: k.mark?.column,
                    message: "unknown key '\(name)' in \(place)",
                    hint: "\(guess)valid keys: \(known.joined(separator: ", "))"))
        }
    }
}

/// Parses YAML text into a root value; syntax errors become located problems.
func parseYAML(_ text: String, file: String, diagnostics: Diagnostics) -> YAMLValue? {
    do {
        guard let node = try Yams.compose(yaml: text) else {
            diagnostics.add(ConfigProblem(file: file, line: 1, column: 1, message: "the file is empty"))
            return nil
        }
        return YAMLValue(node: node, file: file, diagnostics: diagnostics, path: "")
    } catch let e as YamlError {
        switch e {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _), .composer(let context, let problem, let mark, _):
            let ctx = context.map { " (\($0.text))" } ?? ""
            diagnostics.add(ConfigProblem(file: file, line: mark.line, column: mark.column, message: "YAML syntax: \(problem)\(ctx)"))
        case .duplicatedKeysInMapping(let duplicates, let context):
            diagnostics.add(
                ConfigProblem(
                    file: file, line: context.mark.line, column: context.mark.column,
                    message: "duplicate key\(duplicates.count > 1 ? "s" : "") \(duplicates.joined(separator: ", "))"))
        default:
            diagnostics.add(ConfigProblem(file: file, message: "YAML: \(e)"))
        }
        return nil
    } catch {
        diagnostics.add(ConfigProblem(file: file, message: "YAML: \(error)"))
        return nil
    }
}
