import Foundation

/// A report as the regions keep it: its files and what they are about, sealed like a
/// snapshot under a data key of its own (docs/format.md).
public struct StoredReport: Codable, Sendable {
    public var id: ObjectID
    public var kind: String
    public var created: Date
    public var asOf: String
    /// Figures to list without opening the files (findings, excepted, …).
    public var figures: [String: Int]
    public var files: [String: Data]

    public init(kind: String, created: Date, asOf: String, figures: [String: Int], files: [String: Data]) {
        id = .timeOrdered(created); self.kind = kind; self.created = created; self.asOf = asOf; self.figures = figures; self.files = files
    }
}

extension Repository {
    /// Seals a report under a fresh data key and stores it in every location.
    public func putReport(_ report: StoredReport) throws {
        let key = try newDataKey()
        try putSealed("reports/\(report.id.hex)", kind: .report, id: report.id, json: [UInt8](try JSON.encoder.encode(report)), key: key)
    }

    public func reportIDs() -> [ObjectID] {
        listReplicated(prefix: "reports/").compactMap { ObjectID(hex: String($0.dropFirst(8))) }
    }

    public func loadReport(_ id: ObjectID) throws -> StoredReport {
        try JSON.decoder.decode(StoredReport.self, from: Data(try readSealed("reports/\(id.hex)", kind: .report, id: id)))
    }
}
