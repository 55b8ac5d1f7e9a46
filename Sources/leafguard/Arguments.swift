import ArgumentParser
import LeafCompliance
import LeafReports

/// A comma-separated list of one of leafguard's enums, as `--format json,html` takes it:
/// an unknown word is a usage error naming the valid ones.
struct CommaList<Element: RawRepresentable & CaseIterable & Equatable>: ExpressibleByArgument where Element.RawValue == String {
    let elements: [Element]

    init(_ elements: [Element]) { self.elements = elements }

    init?(argument: String) {
        var out: [Element] = []
        for word in argument.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let e = Element(rawValue: word) else { return nil }
            if !out.contains(e) { out.append(e) }
        }
        guard !out.isEmpty else { return nil }
        elements = out
    }

    var defaultValueDescription: String { elements.map(\.rawValue).joined(separator: ",") }

    static var allValueStrings: [String] { Element.allCases.map(\.rawValue) }
}

extension Verdict: ExpressibleByArgument {}
extension Severity: ExpressibleByArgument {}
