import Foundation
import LeafArchive

/// A report as the regions keep it: its files and what they are about, sealed like a
/// snapshot under a data key of its own (docs/format.md).
public struct StoredReport: Codable, Sendable {
    /// The report's time-ordered id.
    public var id: ObjectID
    /// What it is (`compliance`, `posture`).
    public var kind: String
    /// When it was archived.
    public var created: Date
    /// The instant its evidence describes, as the report writes it.
    public var asOf: String
    /// Figures to list without opening the files (findings, excepted, …).
    public var figures: [String: Int]
    /// File name → content; zstd-compressed (each a one-entry tar.zst) when `compressed`.
    public var files: [String: Data]
    /// Absent in reports archived before compression: their files are stored as they are.
    public var compressed: Bool?

    /// A report with a time-ordered id from `created`.
    public init(kind: String, created: Date, asOf: String, figures: [String: Int], files: [String: Data], compressed: Bool? = nil) {
        id = .timeOrdered(created); self.kind = kind; self.created = created; self.asOf = asOf; self.figures = figures
        self.files = files; self.compressed = compressed
    }

    /// A report whose files are read from `paths` one at a time and compressed: the JSON and
    /// CSV of a million-user scan are hundreds of megabytes, and compress twentyfold.
    public static func compressing(kind: String, created: Date, asOf: String, figures: [String: Int], paths: [String]) throws -> StoredReport {
        var files: [String: Data] = [:]
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let name = (path as NSString).lastPathComponent
            let tar = try TarWriter(zstdLevel: 3, expectedSize: data.count / 8)
            try data.withUnsafeBytes { try tar.add(name: name, bytes: $0) }
            files[name] = Data(try tar.finish())
        }
        return StoredReport(kind: kind, created: created, asOf: asOf, figures: figures, files: files, compressed: true)
    }

    /// The files as they were written.
    public func contents() throws -> [String: Data] {
        guard compressed == true else { return files }
        var out: [String: Data] = [:]
        for (name, packed) in files {
            try TarReader.forEachEntry(in: [UInt8](packed), maximumBytes: 1 << 30) { entry, bytes in if entry == name { out[name] = Data(bytes) } }
            guard out[name] != nil else { throw RepositoryError.malformed("report file \(name) is not in its archive") }
        }
        return out
    }
}

extension Repository {
    /// Seals a report under a fresh data key and stores it in every location.
    public func putReport(_ report: StoredReport) throws {
        let key = try newDataKey()
        try putSealed("reports/\(report.id.hex)", kind: .report, id: report.id, json: [UInt8](try JSON.encoder.encode(report)), key: key)
    }

    /// The ids of the reports the region holds.
    public func reportIDs() -> [ObjectID] {
        listReplicated(prefix: "reports/").compactMap { ObjectID(hex: String($0.dropFirst(8))) }
    }

    /// Reads and opens report `id`.
    public func loadReport(_ id: ObjectID) throws -> StoredReport {
        try JSON.decoder.decode(StoredReport.self, from: Data(try readSealed("reports/\(id.hex)", kind: .report, id: id)))
    }
}
